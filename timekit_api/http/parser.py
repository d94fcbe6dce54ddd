"""The request parser every blueprint uses: the contract's statuses (400 on bad input, 415
on a body of the wrong type), a safe and fast JSON decoder, XML bodies read safely into the
same data (``xml.py``), and one multipart location."""

from __future__ import annotations

import typing

import flask
import marshmallow as ma
import orjson
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from . import xml


class Parser(FlaskParser):
    """webargs parser with the contract's statuses and a safe, fast JSON decoder."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req: flask.Request, schema: ma.Schema) -> typing.Any:
        """A JSON body, or an XML one (``application/xml``) read into the same data."""
        if req.mimetype in xml.XML_TYPES and req.content_length:
            try:
                return xml.load(req.get_data(cache=True), schema)
            except xml.InvalidXml as exc:
                abort(400, message="Request body is not acceptable XML",
                      errors={"xml": [str(exc)]})
        return super().load_json(req, schema)

    def _raw_load_json(self, req: flask.Request) -> typing.Any:
        body = req.get_data(cache=True)
        if not body:
            return core.missing
        if not core.is_json(req.mimetype):
            abort(415, message="Request body must be JSON (Content-Type: application/json) "
                  "or XML (Content-Type: application/xml)")
        try:
            # orjson refuses nesting deeper than 1024 and integers beyond 64 bits, so hostile
            # documents fail here as a 400 instead of exhausting the stack.
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            abort(400, message="Request body is not valid JSON", errors={"json": [str(exc)]})

    def load_form(self, req: flask.Request, schema: ma.Schema) -> typing.Any:
        if req.content_length and req.mimetype not in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            abort(415, message="Request body must be form data")
        return super().load_form(req, schema)

    def load_multipart(self, req: flask.Request, schema: ma.Schema) -> typing.Any:
        """Form fields and files together, so one schema documents one request body."""
        if req.mimetype != "multipart/form-data":
            abort(415, message="Request body must be multipart/form-data")
        return self._makeproxy(req.form.copy() | req.files, schema)

    def parse(self, *args, validate=None, **kwargs):
        """Every parse also refuses NUL characters in text (PostgreSQL cannot store them, so
        they failed there as a 500; no field of this API has a use for them)."""
        extra = [] if validate is None else [validate] if callable(validate) else list(validate)
        return super().parse(*args, validate=[refuse_nul_characters, *extra], **kwargs)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        status = error_status_code or self.DEFAULT_VALIDATION_STATUS
        invalid_id = getattr(schema, "invalid_id_message", None)
        if invalid_id and any("id" in messages for messages in error.messages.values()
                              if isinstance(messages, dict)):
            abort(400, message=invalid_id, errors=error.messages, headers=error_headers)
        abort(status, message="Invalid input", errors=error.messages, headers=error_headers)


def naming_invalid_ids(schema: ma.Schema, message: str = "Invalid ID supplied") -> ma.Schema:
    """``schema``, whose body with an invalid ``id`` is a 400 with ``message`` (the seed's
    code for ``PUT /pet``) rather than the operation's status for other invalid bodies."""
    schema.invalid_id_message = message
    return schema


def refuse_nul_characters(data: typing.Any) -> None:
    """Raise a validation error naming the first field whose text holds a NUL character."""

    def find(value, path):
        if isinstance(value, str):
            return path if "\x00" in value else None
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, (list, tuple)):
            items = enumerate(value)
        else:
            return None
        for key, item in items:
            if isinstance(key, str) and "\x00" in key:
                return path or "_schema"
            found = find(item, path or str(key))
            if found:
                return found
        return None

    field = find(data, "")
    if field:
        raise ma.ValidationError({field: ["Text may not contain NUL characters."]})


Parser.__location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}
