"""``GET /v2/health``: is this instance able to serve, database included?

For load balancers and orchestrators: 200 ``{"status": "ok", "database": "ok"}`` when a
round trip to the database works, else 503 in the contract's error shape. It needs no
credentials, sets ``Cache-Control: no-store``, and is left out of the OpenAPI document
(it is about this deployment, not the Timekit API).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify

from ..database import db
from .errors import error_response

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
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
