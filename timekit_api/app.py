"""The application factory: ``create_app()`` builds the service and does nothing else (no
database connection, no migrations: the processes that serve run those, see
``database/migrate.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_cors import CORS

from . import commands, database, settings
from .domain.booking.graphs import check_delays
from .http import auth, docs, errors, health, limits, logs, xml
from .http.api import BLUEPRINTS, testing
from .http.blueprint import Api
from .http.converters import IdConverter, id_parameter_schema
from .http.json_provider import FastJSONProvider

cors = CORS()


class ServiceFlask(Flask):
    """Flask, remembering which hooks and views are plain functions: Flask asks
    ``inspect.iscoroutinefunction`` of each of them on every request (about 20 times, ~5%
    of a cached read). Keyed by the underlying function, so that methods bound to a new
    view object per request do not grow the cache."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plain_functions: set = set()

    def ensure_sync(self, func):
        key = getattr(func, "__func__", func)
        try:
            if key in self._plain_functions:
                return func
        except TypeError:  # an unhashable callable: ask every time
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func:
            self._plain_functions.add(key)
        return wrapped


def create_app(test_config: Mapping[str, Any] | None = None, *,
               overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the service: defaults, then ``instance/config.py``, then ``TIMEKIT_*`` variables,
    then ``overrides`` (what an embedding site passes, see ``embed.py``).

    With ``test_config`` the service is built from the defaults and that mapping alone, so
    neither an instance file nor the environment can change what a test sees.
    """
    # Named after the package: its logger and instance folder are "timekit_api"'s.
    app = ServiceFlask("timekit_api", instance_relative_config=True, static_folder=None)
    app.json = FastJSONProvider(app)
    app.config.from_mapping(settings.defaults())
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_mapping(settings.from_environment())
        app.config.from_mapping(overrides or {})
    else:
        app.config.from_mapping(test_config)
    settings.derive(app.config, app.instance_path)
    check_delays(app.config)

    database.init_app(app)
    # One Api per app: it holds that app's OpenAPI document, so two apps (say, two mounts
    # in one host) never share one. The token URL is relative to the document's own URL,
    # so it survives mounting under a prefix.
    api = Api(app, spec_kwargs={"components": {
        "securitySchemes": auth.security_schemes(token_url="oauth/token")}})
    app.extensions["timekit_api.openapi"] = api  # for code that adds routes to this app
    cors.init_app(app, resources={f"{app.config['API_PREFIX']}/*": {
        "origins": [o.strip() for o in app.config["CORS_ORIGINS"].split(",")],
        "allow_headers": ["Authorization", "Content-Type", "api_key", "api-key",
                          "Idempotency-Key"],
        "expose_headers": ["X-Rate-Limit", "X-Expires-After", "Retry-After", "X-Request-Id",
                           "Idempotent-Replayed", *limits.HEADERS],
    }})
    errors.init_app(app)
    auth.init_app(app)
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, id_parameter_schema)
    for blueprint in BLUEPRINTS + ((testing.blp,) if app.config["TESTING_ENDPOINTS"] else ()):
        api.register_blueprint(blueprint, url_prefix=app.config["API_PREFIX"]
                               + (blueprint.url_prefix or ""))
    docs.init_app(app)
    xml.init_app(app)
    logs.init_app(app)  # request hooks in this order: access log, schema check, rate limits
    health.init_app(app)
    limits.init_app(app)
    commands.init_app(app)
    return app
