"""flask-smorest's ``Api`` and ``Blueprint``, subclassed once so that every blueprint parses
arguments the same way (``parser.py``), answers errors in the contract's shape
(``errors.py``), and enforces and documents authentication with one decorator
(``login_required``)."""

from __future__ import annotations

import copy

from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint

from ..domain.tokens import PERMISSIONS
from . import auth, errors, idempotency, xml
from .parser import Parser


class Blueprint(SmorestBlueprint):
    """A blueprint whose operations are filed under the spec tag ``tag`` (several
    blueprints may share one: pets and bookings are both "Booking")."""

    ARGUMENTS_PARSER = Parser()
    PAGINATION_ARGUMENTS_PARSER = Parser()

    def __init__(self, name: str, import_name: str, *, tag: str, **kwargs):
        super().__init__(name, import_name, description=tag, **kwargs)
        self.tag = tag
        self._prepare_doc_cbks.extend((_document_idempotency, _document_service_errors))
        if name in xml.OBJECT_ROOTS:  # the Petstore's blueprints speak XML too
            self._prepare_doc_cbks.append(_document_xml)

    def arguments(self, schema, **kwargs):
        """flask-smorest's, with one schema instance for every request: given a class,
        webargs builds an instance per request (~0.1 ms, a tenth of a cached read)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or [self.tag], **options)

    # "multipart" (form fields and files in one schema) is documented as a request body.
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def operation(self, operation_id: str):
        """Name the operation (``operationId``): generated clients call it by this name."""
        return self.doc(operationId=operation_id)

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        """Every operation gets a readable ``operationId``: its own (``operation``), else the
        HTTP method and the view's name (``getBookingById``), never the path's noise."""
        for endpoint, endpoint_doc in self._docs.items():
            for method, operation_doc in endpoint_doc.items():
                if method == "parameters":
                    continue
                manual = operation_doc.setdefault("manual_doc", {})
                manual.setdefault("operationId", default_operation_id(method, endpoint))
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)

    def login_required(self, permission: str | None):
        """Require credentials that hold ``permission`` and document both.

        ``permission`` is one of ``domain/tokens.PERMISSIONS``: ``read:pets`` (reads),
        ``write:pets`` (pet writes, orders and bookings) or ``account`` (managing the
        account: only tokens without scope limits hold it), or None for what any valid
        token may do (signing itself out). Scoped OAuth2 tokens hold only their scopes.
        """
        if permission is not None and permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")

        def decorator(func):
            func = auth.multi_auth.login_required(role=permission)(func)
            func = self.fails_with(_401="Missing, invalid or expired credentials")(func)
            if permission:
                func = self.fails_with(_403=f"The token does not hold {permission!r}, or the "
                                             "object belongs to another user")(func)
            return self.doc(security=auth.security_requirements(permission))(func)

        return decorator

    def idempotent(self):
        """Honour ``Idempotency-Key`` (``http/idempotency.py``) and document it: the header
        parameter, ``Idempotent-Replayed`` on success, and the 400/409/422 it may answer.
        Goes below ``login_required`` and above ``arguments``."""
        def decorator(func):
            wrapper = idempotency.idempotent(func)
            wrapper._apidoc = {**copy.deepcopy(getattr(func, "_apidoc", {})),
                               "idempotent": True}
            return wrapper

        return decorator

    def fails_with(self, **descriptions: str):
        """Document error responses: ``fails_with(_400="Invalid ID supplied")``."""

        def decorator(func):
            for code, description in descriptions.items():
                func = self.alt_response(int(code.lstrip("_")), schema=errors.ErrorSchema,
                                         description=description)(func)
            return func

        return decorator


IDEMPOTENCY_ERRORS = {
    400: "Invalid Idempotency-Key",
    409: "A request with this Idempotency-Key is still in progress",
    422: "This Idempotency-Key was used for a different request",
}


def _document_idempotency(doc, doc_info, **kwargs):
    """A flask-smorest doc callback: what ``Blueprint.idempotent`` adds to an operation."""
    if not doc_info.get("idempotent"):
        return doc
    doc.setdefault("parameters", []).append(dict(idempotency.PARAMETER_DOC))
    responses = doc.setdefault("responses", {})
    for code, response in responses.items():
        if str(code).startswith("2") and isinstance(response, dict):
            response.setdefault("headers", {})[idempotency.REPLAYED_HEADER] = \
                idempotency.REPLAYED_HEADER_DOC
    for code, description in IDEMPOTENCY_ERRORS.items():
        existing = responses.get(code) or responses.get(str(code))
        if existing is None:
            responses[code] = {"description": description,
                               "content": {"application/json": {"schema": errors.ErrorSchema}}}
        elif description not in existing.get("description", ""):
            existing["description"] = f"{existing.get('description', '')}; or: {description}"
    return doc
RETRY_AFTER_DOC = {"description": "Seconds to wait before trying again",
                   "schema": {"type": "integer"}}
# What any operation may answer whatever its input (contract sections 2 and 3).
SERVICE_ERRORS = {
    429: "Too many requests from this caller (rate limit, or repeated failed sign-ins); "
         "retry after `Retry-After` seconds",
    503: "The service cannot answer now: the database is unavailable or its schema is "
         "behind (run `timekit-api db upgrade`), or every password-hashing slot is busy; "
         "retry after `Retry-After` seconds",
}


def _document_service_errors(doc, doc_info, **kwargs):
    """A flask-smorest doc callback: the 429 and 503 every operation may answer, each with
    ``Retry-After`` (an operation that documents its own keeps its description)."""
    responses = doc.setdefault("responses", {})
    for code, description in SERVICE_ERRORS.items():
        existing = responses.get(code) or responses.get(str(code))
        if existing is None:
            responses[code] = {"description": description,
                               "content": {"application/json": {"schema": errors.ErrorSchema}},
                               "headers": {"Retry-After": RETRY_AFTER_DOC}}
        elif isinstance(existing, dict):
            existing.setdefault("headers", {}).setdefault("Retry-After", RETRY_AFTER_DOC)
    return doc


def _document_xml(doc, doc_info, **kwargs):
    """A flask-smorest doc callback: a Petstore operation answers XML too (``http/xml.py``),
    with the same schema. Request bodies accept XML as well, but say so only in the
    Swagger 2.0 document (``consumes``): generators such as openapi-generator's Python
    client refuse an XML request body in OpenAPI 3 with a warning for every operation."""
    for body in doc.get("responses", {}).values():
        content = body.get("content") if isinstance(body, dict) else None
        if content and "application/json" in content:
            content.setdefault(xml.XML_MIMETYPE, copy.deepcopy(content["application/json"]))
    return doc


def default_operation_id(method: str, endpoint: str) -> str:
    """``get`` + ``BookingById`` -> ``getBookingById``; ``get`` + ``image`` -> ``getImage``."""
    words = [word for word in endpoint.replace("-", "_").split("_") if word]
    return method.lower() + "".join(word[0].upper() + word[1:] for word in words)


class Api(SmorestApi):
    """flask-smorest's Api, answering every HTTP error in the contract's shape."""

    ERROR_SCHEMA = errors.ErrorSchema

    def handle_http_exception(self, error):
        return errors.http_error_response(error)

