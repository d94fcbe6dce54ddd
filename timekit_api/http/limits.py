"""API-wide rate limits (contract section 3), with Flask-Limiter.

One limit per hour for every caller: ``RATE_LIMIT_PER_HOUR`` for a signed-in account (all of
its credentials share one budget, so minting more tokens buys no more requests) and
``RATE_LIMIT_ANONYMOUS_PER_HOUR`` per client address for calls without valid credentials.
The counters live in this process's memory, or in Redis when ``RATE_LIMIT_STORAGE_URL``
names one, and then every instance shares them.

Every answer carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
(seconds until the window resets, as the IETF draft says) and the ``X-RateLimit-*`` twins
(``X-RateLimit-Reset`` is the Unix time of the reset, as GitHub and Flask-Limiter write it).
Past the limit: 429 in the contract's error shape with ``Retry-After``.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, request
from flask_limiter import HeaderNames, Limiter

from .auth import request_principal

HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
           "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Flask-Limiter would put a Retry-After on every answer (and raise the one a 503 or a
# sign-in 429 carries to the window's end): it writes it under this name, which we drop.
LIMITER_RETRY_AFTER = "X-Timekit-Limiter-Retry-After"


def caller_key() -> str:
    principal = request_principal()
    if principal is not None:
        return f"user:{principal.user_id}"
    return f"address:{request.remote_addr}"


def caller_limit() -> str:
    config = current_app.config
    if request_principal() is not None:
        return f"{config['RATE_LIMIT_PER_HOUR']}/hour"
    return f"{config['RATE_LIMIT_ANONYMOUS_PER_HOUR']}/hour"


def init_app(app: Flask) -> None:
    exempt_paths = {app.config["API_PREFIX"] + "/health"}

    # Registered before the Limiter's own hook, so it runs after it (Flask runs
    # after_request functions in reverse order).
    @app.after_request
    def rate_limit_headers(response):
        retry_after = response.headers.pop(LIMITER_RETRY_AFTER, None)
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = retry_after or "60"
        if "X-RateLimit-Limit" in response.headers:
            reset_at = int(response.headers["X-RateLimit-Reset"])
            response.headers["RateLimit-Limit"] = response.headers["X-RateLimit-Limit"]
            response.headers["RateLimit-Remaining"] = response.headers["X-RateLimit-Remaining"]
            response.headers["RateLimit-Reset"] = str(max(0, reset_at - int(time.time())))
        return response

    Limiter(
        caller_key, app=app,
        default_limits=[caller_limit],
        default_limits_exempt_when=lambda: (request.method == "OPTIONS"
                                            or request.path in exempt_paths),
        storage_uri=app.config["RATE_LIMIT_STORAGE_URL"] or "memory://",
        headers_enabled=True,
        header_name_mapping={HeaderNames.RETRY_AFTER: LIMITER_RETRY_AFTER},
        strategy="fixed-window",
        key_prefix="timekit",
        # Redis unreachable: count in this process's memory meanwhile, and never answer 500
        # because of the limiter (errors are logged).
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
