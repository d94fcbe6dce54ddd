"""Layer 0, settings: defaults in code, then ``instance/config.py``, then ``TIMEKIT_*`` variables.

Every setting is listed once in ``DEFAULTS`` with its type and meaning; the README's
settings table is written from it. An environment variable ``TIMEKIT_<NAME>`` overrides
``<NAME>`` and is converted to the type of the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

# name: (default, description)
SETTINGS: dict[str, tuple[Any, str]] = {
    "DATABASE_URL": ("", "SQLAlchemy URL; empty means SQLite file `timekit.sqlite3` in the "
                         "instance folder"),
    "AUTO_CREATE_SCHEMA": (None, "run the migrations on start (`timekit-api db upgrade`); "
                                 "empty means on for SQLite, off for other databases"),
    "API_PREFIX": ("/v2", "path prefix of every API route, the docs and the OpenAPI document"),
    "CORS_ORIGINS": ("*", "allowed origins for CORS, comma-separated, `*` for any"),
    "MAX_CONTENT_LENGTH": (6 * 1024 * 1024, "largest request body in bytes (413 beyond)"),
    "MAX_IMAGE_BYTES": (5 * 1024 * 1024, "largest uploaded image in bytes (413 beyond)"),
    "TOKEN_TTL_SECONDS": (24 * 3600, "lifetime of issued tokens"),
    "SIGNUP_ENABLED": (True, "whether anonymous `POST /user` may create accounts"),
    "RATE_LIMIT_PER_HOUR": (5000, "value announced in the login response's `X-Rate-Limit` header"),
    "LOGIN_FAILURES_BEFORE_DELAY": (3, "failed logins for one account before answers are slowed"),
    "LOGIN_FAILURES_BEFORE_LOCK": (10, "failed logins for one account before 429 is answered"),
    "LOGIN_LOCK_SECONDS": (300, "how long an account stays locked after too many failures"),
    "LOGIN_FAILURE_DELAY_SECONDS": (0.5, "extra delay per failed login once the delay "
                                         "threshold is passed"),
    "PASSWORD_HASH_METHOD": ("scrypt", "Werkzeug password-hash method for stored passwords"),
    "SQLITE_BUSY_TIMEOUT_MS": (10000, "how long SQLite waits for a write lock before giving up"),
    "ACCESS_LOG": (True, "emit one access-log line per request on logger `timekit_api.access`"),
    "ACCESS_LOG_JSON": (False, "write access-log lines as JSON objects"),
    "PAYMENT_TIMEOUT": ("5 minutes", "how long an `instant_payment` booking stays `tentative` "
                                     "before it times out to `unpaid`"),
    "AUTO_COMPLETE_AFTER": ("1 hour", "how long after its end a live booking is completed "
                                      "automatically"),
    "WORKER_ENABLED": (True, "run the worker (automatic transitions) as a thread of "
                             "`timekit-api serve` and `wsgi.py`"),
    "WORKER_POLL_SECONDS": (1.0, "how often the worker looks for due work"),
    "WORKER_BATCH_SIZE": (500, "due bookings the worker claims per round"),
    "TESTING_ENDPOINTS": (False, "enable `POST /testing/reset` and `GET`/`PUT /testing/clock` "
                                 "(never on a production service: they wipe data and move time)"),
}

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def convert(name: str, raw: str, default: Any) -> Any:
    """Convert an environment string to the type of ``default``."""
    if default is None and not raw.strip():
        return None  # "decide by the database"
    if isinstance(default, bool) or default is None:
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"TIMEKIT_{name} must be a boolean, not {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def defaults() -> dict[str, Any]:
    return {name: default for name, (default, _) in SETTINGS.items()}


def from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The ``TIMEKIT_*`` overrides present in ``environ``."""
    found = {}
    for name, (default, _) in SETTINGS.items():
        raw = environ.get(f"TIMEKIT_{name}")
        if raw is not None:
            found[name] = convert(name, raw, default)
    return found


def render_default(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def markdown_table() -> str:
    """The settings table of docs/OPERATIONS.md (``timekit-api settings`` prints it)."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, (default, description) in SETTINGS.items():
        lines.append(f"| `{name}` | `TIMEKIT_{name}` | {render_default(default)} | "
                     f"{description} |")
    return "\n".join(lines)


TAG_DESCRIPTIONS = (
    ("Authentication", "Sign in and get tokens"),
    ("Booking", "Pets (the bookable resources) and the booking engine"),
    ("Store", "Access to Petstore orders"),
    ("User", "Operations about user"),
)


def derive(config: MutableMapping[str, Any], instance_path: str) -> None:
    """Derive the libraries' settings (Flask-SQLAlchemy, flask-smorest) from ours."""
    prefix = "/" + config["API_PREFIX"].strip("/")
    config["API_PREFIX"] = prefix
    if not config["DATABASE_URL"]:
        path = os.path.join(instance_path, "timekit.sqlite3")
        config["DATABASE_URL"] = f"sqlite:///{path}"
    sqlite = config["DATABASE_URL"].startswith("sqlite")
    if config["AUTO_CREATE_SCHEMA"] is None:
        config["AUTO_CREATE_SCHEMA"] = sqlite
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
        # SQL parameters (password hashes, token digests) stay out of errors and logs.
        "hide_parameters": True,
        # Wait for the write lock instead of failing with "database is locked".
        **({"connect_args": {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}} if sqlite
           # Recover from a restarted database server without a failed request.
           else {"pool_pre_ping": True}),
    })
    config.update(
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
            "tags": [{"name": t, "description": d} for t, d in TAG_DESCRIPTIONS],
        },
        JSON_SORT_KEYS=False,
    )
    if config.get("APPLICATION_ROOT", "/") != "/":
        # Mounted under a prefix (embed.py): "Try it out" must call /prefix/v2/..., not /v2/...
        config["API_SPEC_OPTIONS"]["servers"] = [{"url": config["APPLICATION_ROOT"]}]
