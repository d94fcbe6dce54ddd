"""``GET /v2/health``: is this instance able to serve, database included?

For load balancers and orchestrators: 200 ``{"status": "ok", "database": "ok"}`` when a
round trip to the database works and its schema is the one this code needs, else 503 in
the contract's error shape with ``Retry-After`` and what to do. It needs no credentials,
sets ``Cache-Control: no-store``, and is left out of the OpenAPI document (it is about
this deployment, not the Timekit API).

Every other request is answered the same 503 while the schema is behind (contract section
2), rather than failing on a missing table with a 500. The check costs one small query per
request until the schema matches once; from then on this process trusts it (migrations
only ever move forward while it runs).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify, request

from ..database import db
from ..database.migrate import head_revisions, stored_revisions
from .errors import error_response

log = logging.getLogger(__name__)


UPGRADE_COMMAND = "timekit-api db upgrade"


def schema_behind_response(stored: frozenset[str]):
    found = ", ".join(sorted(stored)) or "none"
    needed = ", ".join(sorted(head_revisions()))
    response = error_response(
        503, f"The database schema is at revision {found}; this service needs {needed}. "
             f"Run `{UPGRADE_COMMAND}`.",
        errors={"database": [f"schema behind: run `{UPGRADE_COMMAND}`"]},
        headers={"Retry-After": "30"})
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    schema_checked = False  # per app and process: once it matched, it stays matched
    # The service's own documents need no database.
    documents = tuple(app.config["API_PREFIX"] + path
                      for path in ("/openapi.json", "/swagger.json", "/docs"))

    @app.before_request
    def require_current_schema():
        nonlocal schema_checked
        if schema_checked or request.path.startswith(documents):
            return None
        try:
            stored = stored_revisions(db.session.connection())
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            return None  # unreachable: the request's own query answers 503 (errors.py)
        db.session.rollback()
        if stored != head_revisions():
            return schema_behind_response(stored)
        schema_checked = True
        return None

    @app.get(app.config["API_PREFIX"] + "/health")
    def health():
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("health check: database unavailable (%s)", exc.__class__.__name__)
            response = error_response(503, "Database unavailable",
                                      errors={"database": ["unreachable"]},
                                      headers={"Retry-After": "5"})
        else:
            response = jsonify({"status": "ok", "database": "ok"})
        response.headers["Cache-Control"] = "no-store"
        return response
