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
    "RATE_LIMIT_PER_HOUR": (5000, "requests per hour for one signed-in account (all its "
                                  "credentials together); also the login's `X-Rate-Limit`"),
    "RATE_LIMIT_ANONYMOUS_PER_HOUR": (3600, "requests per hour from one client address "
                                            "without valid credentials"),
    "RATE_LIMIT_STORAGE_URL": ("", "where rate-limit counters live: empty for this process's "
                                   "memory, `redis://host:6379/0` to share them between "
                                   "instances"),
    "LOGIN_FAILURES_BEFORE_DELAY": (3, "failed logins for one account before each further "
                                       "failure makes it wait (429 with `Retry-After`)"),
    "LOGIN_FAILURES_BEFORE_LOCK": (10, "failed logins for one account before it is locked"),
    "LOGIN_LOCK_SECONDS": (300, "how long an account stays locked after too many failures"),
    "LOGIN_FAILURE_DELAY_SECONDS": (0.5, "wait per failure past the delay threshold (429 "
                                         "with `Retry-After` until it has passed)"),
    "LOGIN_FAILURES_PER_ADDRESS_PER_HOUR": (100, "failed sign-ins from one client address "
                                                 "per hour before it gets 429"),
    "PASSWORD_HASH_METHOD": ("scrypt:8192:8:10",
                             "Werkzeug password-hash method for new passwords (scrypt N=2^13, "
                             "r=8, p=10: one of OWASP's settings, 8 MiB per hash)"),
    "PASSWORD_HASH_CONCURRENCY": (1, "password hashes computed at once per process (each "
                                     "takes a CPU, and 8 MiB with the default method: raise "
                                     "it with cores)"),
    "PASSWORD_HASH_WAIT_SECONDS": (3.0, "longest wait for a hashing slot before answering 503 "
                                        "with `Retry-After`"),
    "SERVE_THREADS": (32, "`timekit-api serve`: worker threads (sign-ins waiting for a "
                          "hashing slot hold one each; the rest keep answering)"),
    "SERVE_CONNECTION_LIMIT": (1000, "`timekit-api serve`: open connections accepted at "
                                     "once (idle ones included)"),
    "SERVE_CHANNEL_TIMEOUT": (30, "`timekit-api serve`: seconds before an idle or stalled "
                                  "connection is closed"),
    "SERVE_BACKLOG": (2048, "`timekit-api serve`: connections the kernel queues before "
                            "waitress accepts them"),
    "SERVE_CLEANUP_INTERVAL": (10, "`timekit-api serve`: seconds between sweeps for timed-out "
                                   "connections"),
    "SQLITE_BUSY_TIMEOUT_MS": (10000, "how long SQLite waits for a write lock before giving up"),
    "IDEMPOTENCY_KEY_TTL_SECONDS": (24 * 3600, "how long an `Idempotency-Key` answer is "
                                               "kept and replayed"),
    "IDEMPOTENCY_IN_FLIGHT_SECONDS": (60, "after this long, a request with an "
                                          "`Idempotency-Key` that never finished (its process "
                                          "died) may be taken over by a retry"),
    "ACCESS_LOG": (True, "emit one access-log line per request on logger `timekit_api.access`"),
    "ACCESS_LOG_JSON": (False, "write access-log lines as JSON objects"),
    "PUBLIC_URL": ("http://127.0.0.1:8080", "the service's address as email readers reach "
                                            "it (scheme, host, port, mount point); emailed "
                                            "action links start with it"),
    "SERVICE_NAME": ("Timekit API", "the service's name in emails and calendar files"),
    "MAIL_SERVER": ("", "SMTP host for booking emails; empty means no emails (they are "
                        "recorded as `skipped` in the delivery log)"),
    "MAIL_PORT": (25, "SMTP port"),
    "MAIL_USE_TLS": (False, "upgrade the SMTP connection with STARTTLS (refusing a server "
                            "without it)"),
    "MAIL_USERNAME": ("", "SMTP login; empty means no login"),
    "MAIL_PASSWORD": ("", "SMTP password (never logged)"),
    "MAIL_FROM": ("timekit-api@localhost", "sender address of booking emails"),
    "ACTION_LINK_SECRET": ("", "key that signs emailed action links; empty means a random "
                               "key generated on first use and stored in the database"),
    "ACTION_LINK_MAX_AGE_SECONDS": (7 * 24 * 3600, "how long an emailed action link works"),
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": (False, "let webhooks call loopback, private and other "
                                              "non-public addresses (local setups, tests)"),
    "WEBHOOK_TIMEOUT_SECONDS": (10.0, "hard timeout of one webhook request (connect, and "
                                      "each wait for the answer)"),
    "DELIVERY_LEASE_SECONDS": (60, "how long a delivery process owns a claimed notification; "
                                   "after a crash it is sent again once the lease ends"),
    "DELIVERY_BATCH_SIZE": (50, "notifications one delivery process claims at a time"),
    "DELIVERY_CONCURRENCY": (8, "webhook requests one delivery process has in flight at once "
                                "(never two of one booking to one webhook)"),
    "DELIVERY_POLL_SECONDS": (1.0, "how long `timekit-api deliver` waits when nothing is "
                                   "due"),
    "PAYMENT_TIMEOUT": ("5 minutes", "how long an `instant_payment` booking stays `tentative` "
                                     "before it times out to `unpaid`"),
    "AUTO_COMPLETE_AFTER": ("1 hour", "how long after its end a live booking is completed "
                                      "automatically"),
    "WORKER_ENABLED": (True, "run the worker (automatic transitions) as a thread of "
                             "`timekit-api serve` and `wsgi.py`"),
    "WORKER_POLL_SECONDS": (1.0, "how often the worker looks for due work"),
    "WORKER_BATCH_SIZE": (500, "due bookings the worker claims per round"),
    "WORKER_PURGE_INTERVAL_SECONDS": (3600, "how often the worker deletes expired tokens, "
                                            "action links and idempotency records, and old "
                                            "delivered notifications"),
    "DELIVERY_RETENTION_DAYS": (30, "how long delivered (or skipped) notifications stay in "
                                    "the delivery log"),
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
