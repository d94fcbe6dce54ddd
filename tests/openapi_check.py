"""Checks that a response is one the OpenAPI document declares for its operation and status.

Used by ``test_document.py`` (an ``after_request`` hook over many requests) and by the
hostile-input tests against waitress. A violation is a string saying what disagrees.
"""

from __future__ import annotations

import json
import re

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# Routes that are not API operations: the document itself, the docs page and its assets.
NOT_OPERATIONS = re.compile(r"/(openapi\.json|docs(/.*)?)$")


def openapi_path(rule: str) -> str:
    """Werkzeug's ``/v2/pet/<id:petId>`` as OpenAPI's ``/v2/pet/{petId}``."""
    return RULE_ARGUMENT.sub(r"{\1}", rule)


class DocumentChecker:
    def __init__(self, document: dict):
        self.document = document

    def _schema(self, schema: dict) -> dict:
        return {**schema, "components": self.document["components"]}

    def check(self, rule: str | None, method: str, status: int, content_type: str,
              body: bytes, headers=None) -> list[str]:
        where = f"{method} {rule} -> {status}"
        if status >= 500:
            return [f"{where}: server error {body[:300]!r}"]
        if rule is None or NOT_OPERATIONS.search(rule) or method in ("HEAD", "OPTIONS"):
            # Unknown routes and preflights: only the error shape can be checked.
            return self._error_shape(where, status, content_type, body)
        item = self.document["paths"].get(openapi_path(rule))
        if item is None:
            return [f"{where}: route missing from the document"]
        operation = item.get(method.lower())
        if operation is None:
            if status == 405:
                return self._error_shape(where, status, content_type, body)
            return [f"{where}: method missing from the document"]
        responses = operation["responses"]
        response = responses.get(str(status))
        if response is None and status >= 400:
            response = responses.get("default")
        if response is None:
            return [f"{where}: status not declared (declared: {sorted(responses)})"]
        while "$ref" in response:
            response = self.document["components"]["responses"][
                response["$ref"].rsplit("/", 1)[1]]
        problems = []
        for name, header in (response.get("headers") or {}).items():
            # Headers are checked unless the document says they are optional (``required:
            # false``, e.g. ``Idempotent-Replayed``, present on replays only).
            if header.get("required") is False:
                continue
            if status < 300 and headers is not None and name not in headers:
                problems.append(f"{where}: declared header {name} missing")
        content = response.get("content")
        if not content:
            return problems
        media = content_type.split(";")[0].strip()
        if media not in content:
            return problems + [f"{where}: content type {media!r} not declared "
                               f"(declared: {sorted(content)})"]
        schema = content[media].get("schema")
        if schema is None or media != "application/json":
            return problems
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return problems + [f"{where}: body is not JSON: {exc}"]
        validator = OAS30ReadValidator(self._schema(schema), format_checker=oas30_format_checker)
        problems += [f"{where}: {error.json_path}: {error.message}"
                     for error in validator.iter_errors(payload)]
        return problems

    def _error_shape(self, where, status, content_type, body) -> list[str]:
        if status < 400:
            return []
        if not content_type.startswith("application/json"):
            return [f"{where}: error is not JSON ({content_type})"]
        error = {"$ref": "#/components/schemas/Error"}
        validator = OAS30ReadValidator(self._schema(error), format_checker=oas30_format_checker)
        return [f"{where}: {e.message}" for e in validator.iter_errors(json.loads(body))]
