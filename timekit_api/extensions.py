"""Extension objects, created once here and bound to an app in ``create_app`` (the
flask-smorest ``Api`` is made per app there, since it holds that app's document).

``Api`` and ``Blueprint`` are subclassed once so that every blueprint parses arguments
the same way (400 on bad input, 415 on a body that is not JSON, the contract's error
shape) and documents the same way.
"""

from __future__ import annotations

import typing
from pathlib import Path

import flask
import marshmallow as ma
import orjson
import sqlalchemy as sa
from flask_cors import CORS
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase
from webargs import core
from webargs.flaskparser import FlaskParser, abort

from . import errors


class Base(DeclarativeBase):
    # Named constraints, so that migrations can alter them later (SQLite included).
    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base)
cors = CORS()
# Schema changes ship as Alembic migrations in timekit_api/migrations (docs/OPERATIONS.md).
MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent / "migrations")
migrate = Migrate(directory=MIGRATIONS_DIRECTORY, compare_type=True, render_as_batch=True)


class Parser(FlaskParser):
    """webargs parser with the contract's statuses and a safe, fast JSON decoder."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: flask.Request) -> typing.Any:
        body = req.get_data(cache=True)
        if not body:
            return core.missing
        if not core.is_json(req.mimetype):
            abort(415, message="Request body must be JSON (Content-Type: application/json)")
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
        abort(status, message="Invalid input", errors=error.messages, headers=error_headers)


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


class Blueprint(SmorestBlueprint):
    """A blueprint whose operations are filed under the spec tag ``tag`` (several
    blueprints may share one: pets and bookings are both "Booking")."""

    ARGUMENTS_PARSER = Parser()
    PAGINATION_ARGUMENTS_PARSER = Parser()

    def __init__(self, name: str, import_name: str, *, tag: str, **kwargs):
        super().__init__(name, import_name, description=tag, **kwargs)
        self.tag = tag

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or [self.tag], **options)

    # "multipart" (form fields and files in one schema) is documented as a request body.
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **SmorestBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def login_required(self, scope: str | None = None):
        """Require credentials (and ``scope`` for scoped OAuth2 tokens); document both."""
        from .security import multi_auth, security_requirements  # security needs the models

        def decorator(func):
            func = multi_auth.login_required(role=scope)(func)
            func = self.fails_with(_401="Missing, invalid or expired credentials")(func)
            if scope:
                func = self.fails_with(_403=f"The token lacks the {scope} scope, or the "
                                             "object belongs to another user")(func)
            return self.doc(security=security_requirements(scope))(func)

        return decorator

    def fails_with(self, **descriptions: str):
        """Document error responses: ``fails_with(_400="Invalid ID supplied")``."""

        def decorator(func):
            for code, description in descriptions.items():
                func = self.alt_response(int(code.lstrip("_")), schema=errors.ErrorSchema,
                                         description=description)(func)
            return func

        return decorator


class Api(SmorestApi):
    """flask-smorest's Api, answering every HTTP error in the contract's shape."""

    ERROR_SCHEMA = errors.ErrorSchema

    def handle_http_exception(self, error):
        return errors.http_error_response(error)

