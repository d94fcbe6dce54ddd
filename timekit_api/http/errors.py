"""The one error shape of the contract, and the handlers that produce it.

    {"code": 404, "type": "error", "message": "Pet not found"}

Validation failures add ``"errors": {"field": ["why"]}``.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import HTTPException

from ..database import db
from ..domain import errors as domain

log = logging.getLogger(__name__)

# Headers that Werkzeug attaches to its exceptions and that clients rely on.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


class ErrorSchema(ma.Schema):
    """Documents the error payload (responses are built by ``error_response``)."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    type = ma.fields.String(required=True, metadata={"description": "always `error`"})
    message = ma.fields.String(required=True, metadata={"description": "what went wrong"})
    errors = ma.fields.Raw(metadata={"description": "per-field validation messages"})


class OAuthErrorSchema(ErrorSchema):
    """The contract's error shape plus RFC 6749 section 5.2's fields (absent when the form
    itself is invalid)."""

    error = ma.fields.String(metadata={
        "description": "invalid_grant, invalid_scope or unsupported_grant_type"})
    error_description = ma.fields.String()


def error_response(code: int, message: str, errors=None, headers=None):
    payload = {"code": code, "type": "error", "message": message}
    if errors:
        payload["errors"] = errors
    response = jsonify(payload)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def wire_paths(errors, path: str = "") -> dict:
    """marshmallow's nested messages keyed by the wire path of each field, as the contract's
    examples show them: ``{"tags": {0: {"_schema": [...]}}}`` -> ``{"tags[0]": [...]}``."""
    if not isinstance(errors, dict):
        return {path or "_schema": errors}
    flat = {}
    for key, value in errors.items():
        if key == "_schema":
            child = path
        elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            child = f"{path}[{key}]"
        else:
            child = f"{path}.{key}" if path else str(key)
        flat.update(wire_paths(value, child) if isinstance(value, dict)
                    else {child or "_schema": value})
    return flat


def _routing_message(error: HTTPException) -> str | None:
    """What Werkzeug's routing and body limits say, naming the path, method or limit."""
    if error.code == 404 and request and request.url_rule is None:
        return f"No operation at {request.path}"
    if error.code == 405 and request and request.url_rule is None:
        return f"{request.method} is not allowed on {request.path}"
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"Request body larger than {limit} bytes, the most this service accepts"
    return None


def http_error_response(error: HTTPException):
    """Turn any Werkzeug/flask-smorest HTTP exception into the contract's shape."""
    data = getattr(error, "data", None) or {}
    message = data.get("message") or _routing_message(error) or error.description or error.name
    errors = data.get("errors") or data.get("messages")
    if isinstance(errors, dict) and set(errors) <= {"json", "query", "form", "files",
                                                    "multipart", "headers", "view_args"}:
        # webargs nests messages under the location; one location per request makes it noise.
        errors = {k: v for location in errors.values() for k, v in
                  (location.items() if isinstance(location, dict) else [("_", location)])}
    if isinstance(errors, dict):
        errors = wire_paths(errors)
    headers = {}
    original = error.get_response()
    for name in KEPT_HEADERS:
        if name in original.headers:
            headers[name] = original.headers[name]
    headers.update(data.get("headers") or {})
    return error_response(error.code or 500, message, errors, headers)


# The status each kind of domain error is answered with; the most specific class wins.
STATUS_OF = {
    domain.InvalidPet: 405,  # the seed's "Invalid input" for pet bodies
    domain.ImageTooLarge: 413,
    domain.IdempotencyKeyReused: 422,
    domain.TooLarge: 413,
    domain.Busy: 503,
    domain.Invalid: 400,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.TooManyAttempts: 429,
    domain.DomainError: 400,
}


def status_of(error: domain.DomainError) -> int:
    return next(STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF)


def domain_error_response(error: domain.DomainError, status: int | None = None):
    """A domain exception in the contract's shape (``status`` overrides the table's)."""
    return error_response(status or status_of(error), error.message, error.errors,
                          error.headers)


def init_app(app: Flask) -> None:
    @app.errorhandler(domain.DomainError)
    def domain_error(error: domain.DomainError):
        db.session.rollback()
        return domain_error_response(error)

    @app.errorhandler(IntegrityError)
    def conflict(exc):
        # A uniqueness race lost to a concurrent request: the database kept one of them.
        db.session.rollback()
        return error_response(409, "Conflicts with existing data")

    @app.errorhandler(StaleDataError)
    @app.errorhandler(ObjectDeletedError)
    def deleted_meanwhile(exc):
        # A write that lost a race with a delete of the same object. The domain locks rows
        # before such writes (database.lock_row), so this is the safety net, not the rule.
        db.session.rollback()
        log.warning("write raced a delete: %s", exc.__class__.__name__)
        return error_response(404, "Not found: deleted by a concurrent request")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(exc):
        log.error("database error: %s", exc.__class__.__name__, exc_info=exc)
        return error_response(503, "Database unavailable, try again later",
                              headers={"Retry-After": "5"})
