"""Timekit API v2: the application factory."""

from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask, send_from_directory
from sqlalchemy import event

from . import config, errors, ids
from .extensions import Api, cors, db, migrate

__version__ = "0.1.0"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: defaults, then ``instance/config.py``, then ``TIMEKIT_*``
    variables, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.config.from_mapping(config.defaults())
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    configure(app)

    db.init_app(app)
    ids.init_app(db)
    migrate.init_app(app, db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    # One Api per app: it holds that app's OpenAPI document, so two apps (say, two mounts
    # in one host) never share one.
    api = Api(app, spec_kwargs={"components": {"securitySchemes": _security_schemes(app)}})
    app.extensions["timekit_api.openapi"] = api  # for code that adds routes to this app
    cors.init_app(app, resources={f"{app.config['API_PREFIX']}/*": {
        "origins": [o.strip() for o in app.config["CORS_ORIGINS"].split(",")],
        "allow_headers": ["Authorization", "Content-Type", "api_key", "api-key"],
        "expose_headers": ["X-Rate-Limit", "X-Expires-After", "Retry-After", "X-Request-Id"],
    }})
    errors.init_app(app)
    _register_api(app, api)
    _register_docs_assets(app)

    from . import cli, health, logs
    cli.init_app(app)
    health.init_app(app)
    logs.init_app(app)

    if app.config["AUTO_CREATE_SCHEMA"]:
        from .database import upgrade_to_head
        upgrade_to_head(app)
    return app


def configure(app: Flask) -> None:
    """Derive the library settings from ours."""
    prefix = "/" + app.config["API_PREFIX"].strip("/")
    app.config["API_PREFIX"] = prefix
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "timekit.sqlite3")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"
    sqlite = app.config["DATABASE_URL"].startswith("sqlite")
    if app.config["AUTO_CREATE_SCHEMA"] is None:
        app.config["AUTO_CREATE_SCHEMA"] = sqlite
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
        # SQL parameters (password hashes, token digests) stay out of errors and logs.
        "hide_parameters": True,
        # Wait for the write lock instead of failing with "database is locked".
        **({"connect_args": {"timeout": app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}} if sqlite
           # Recover from a restarted database server without a failed request.
           else {"pool_pre_ping": True}),
    })
    app.config.update(
        API_TITLE="Timekit API",
        API_VERSION="2.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=prefix,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Relative, so the page finds its assets under any mount point.
        OPENAPI_SWAGGER_UI_URL="docs/assets/",
        OPENAPI_SWAGGER_UI_CONFIG={"persistAuthorization": True},
        API_SPEC_OPTIONS={
            "info": {"description": "Swagger Petstore v2 operations, Timekit's authentication "
                                    "and booking engine, as a self-hostable service."},
            "tags": [{"name": t, "description": d} for t, d in TAGS],
        },
        JSON_SORT_KEYS=False,
    )
    if app.config.get("APPLICATION_ROOT", "/") != "/":
        # Mounted under a prefix (embed.py): "Try it out" must call /prefix/v2/..., not /v2/...
        app.config["API_SPEC_OPTIONS"]["servers"] = [{"url": app.config["APPLICATION_ROOT"]}]
    app.json.sort_keys = False


TAGS = (
    ("Authentication", "Sign in and get tokens"),
    ("Booking", "Pets (the bookable resources) and the booking engine"),
    ("Store", "Access to Petstore orders"),
    ("User", "Operations about user"),
)


def _security_schemes(app: Flask) -> dict:
    from .security import security_schemes

    # Relative to the document's own URL, so it survives mounting under a prefix.
    return security_schemes(token_url="oauth/token")


def _register_api(app: Flask, api: Api) -> None:
    from .api import BLUEPRINTS
    from .converters import IdConverter, id_parameter_schema

    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, id_parameter_schema)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint, url_prefix=app.config["API_PREFIX"]
                               + (blueprint.url_prefix or ""))


def _register_docs_assets(app: Flask) -> None:
    from swagger_ui_bundle import swagger_ui_path

    @app.route(app.config["API_PREFIX"] + "/docs/assets/<path:filename>")
    def swagger_ui_assets(filename):
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers run beside one writer; synchronous=NORMAL is safe with WAL and
    much faster; SQLite leaves foreign keys off unless asked."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
