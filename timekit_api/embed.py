"""Mounting the API inside an existing Flask site, under a prefix.

    from flask import Flask
    from timekit_api.embed import mount

    site = Flask(__name__)            # the existing site, its routes and settings untouched
    mount(site, prefix="/api", config={"DATABASE_URL": "postgresql+psycopg://..."})

The API is a separate Flask app (``create_app``) behind Werkzeug's ``DispatcherMiddleware``:
requests under ``/api`` go to it with ``SCRIPT_NAME=/api``, every other request goes to the
site as before. So the API's routes, its docs (``/api/v2/docs``, their assets, the OpenAPI
document and its ``servers``) and the image URLs it writes carry the prefix, and neither app
sees the other's configuration, error handlers, extensions or request hooks. The API still
reads ``instance/config.py`` and ``TIMEKIT_*`` variables; ``config`` is applied last. ``mount``
runs the migrations when ``AUTO_CREATE_SCHEMA`` is on (SQLite's default), as a serving
process does; otherwise run ``timekit-api db upgrade``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from .app import create_app
from .database.migrate import upgrade_to_head
from .serving import allow_api_key_header


def mount(host_app: Flask, prefix: str = "/api",
          config: Mapping[str, Any] | None = None) -> Flask:
    """Serve a new Timekit API app under ``prefix`` of ``host_app``; returns the API app."""
    prefix = "/" + prefix.strip("/")
    if prefix == "/":
        raise ValueError("mount the API under a prefix such as '/api'")
    api_app = create_app(overrides={**(config or {}), "APPLICATION_ROOT": prefix})
    if api_app.config["AUTO_CREATE_SCHEMA"]:
        upgrade_to_head(api_app)  # the site starts serving here
    host_app.wsgi_app = DispatcherMiddleware(host_app.wsgi_app, {prefix: api_app})
    host_app.extensions["timekit_api"] = api_app
    # The seed's `api_key` header, should the site be served by waitress (see serving.py).
    allow_api_key_header()
    return api_app
