"""API-wide rate limits (contract section 3), counted by the ``limits`` library.

One limit per hour for every caller: ``RATE_LIMIT_PER_HOUR`` for a signed-in account (all of
its credentials share one budget, so minting more tokens buys no more requests) and
``RATE_LIMIT_ANONYMOUS_PER_HOUR`` per client address for calls without valid credentials.
The counters live in this process's memory, or in Redis when ``RATE_LIMIT_STORAGE_URL``
names one, and then every instance shares them (fixed one-hour windows).

Every answer carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
(seconds until the window resets, as the IETF draft says) and the ``X-RateLimit-*`` twins
(``X-RateLimit-Reset`` is the Unix time of the reset, as GitHub writes it). Past the limit:
429 in the contract's error shape with ``Retry-After``.

``limits`` is the counting library under Flask-Limiter, used directly: one hook and one
counter per request. Flask-Limiter's extension around it (per-route limits, exemption
scopes, its own header handling, none of which this service uses) cost ~0.3 ms per
request, a third of a cached read (benchmarks/PROFILE.md, "rate limiter").
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, g, request
from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .auth import request_principal
from .errors import error_response

log = logging.getLogger(__name__)

HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
           "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
NAMESPACE = "timekit"
# A shared store that failed is left alone this long; counting goes on in memory meanwhile.
STORAGE_RETRY_SECONDS = 30.0
# A shared store that does not answer within this fails the count, not the request.
STORAGE_TIMEOUT_SECONDS = 0.5


class RateLimits:
    """The two limits and where they are counted, per app."""

    def __init__(self, config):
        self.signed_in = RateLimitItemPerHour(config["RATE_LIMIT_PER_HOUR"])
        self.anonymous = RateLimitItemPerHour(config["RATE_LIMIT_ANONYMOUS_PER_HOUR"])
        url = config["RATE_LIMIT_STORAGE_URL"]
        options = ({"socket_timeout": STORAGE_TIMEOUT_SECONDS,
                    "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS}
                   if url.startswith(("redis://", "rediss://")) else {})
        self.shared = FixedWindowRateLimiter(storage_from_string(url, **options)) if url else None
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self._shared_down_until = 0.0

    def count(self, item, key: str) -> tuple[bool, float, int]:
        """One more call for ``key``: (allowed, window reset as Unix time, remaining)."""
        if self.shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                return self._count(self.shared, item, key)
            except Exception as error:  # noqa: BLE001 (any store error: never a 500)
                self._shared_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
                log.warning("rate-limit storage failed (%s); counting in memory for %g s",
                            error.__class__.__name__, STORAGE_RETRY_SECONDS)
        return self._count(self.local, item, key)

    @staticmethod
    def _count(limiter: FixedWindowRateLimiter, item, key: str) -> tuple[bool, float, int]:
        allowed = limiter.hit(item, NAMESPACE, key)
        stats = limiter.get_window_stats(item, NAMESPACE, key)
        return allowed, stats.reset_time, stats.remaining


def init_app(app: Flask) -> None:
    exempt_paths = {app.config["API_PREFIX"] + "/health"}
    limits = RateLimits(app.config)

    @app.before_request
    def rate_limit():
        if request.method == "OPTIONS" or request.path in exempt_paths:
            return None
        principal = request_principal()
        if principal is not None:
            item, key = limits.signed_in, f"user:{principal.user_id}"
        else:
            item, key = limits.anonymous, f"address:{request.remote_addr}"
        allowed, reset_at, remaining = limits.count(item, key)
        g.rate_limit = (item.amount, remaining, reset_at)
        if not allowed:
            wait = max(1, math.ceil(reset_at - time.time()))
            return error_response(429, f"Rate limit exceeded: {item.amount} per hour",
                                  headers={"Retry-After": str(wait)})
        return None

    @app.after_request
    def rate_limit_headers(response):
        counted = g.get("rate_limit")
        if counted is not None:
            amount, remaining, reset_at = counted
            headers = response.headers
            headers["X-RateLimit-Limit"] = headers["RateLimit-Limit"] = str(amount)
            headers["X-RateLimit-Remaining"] = headers["RateLimit-Remaining"] = str(remaining)
            headers["X-RateLimit-Reset"] = str(math.ceil(reset_at))
            headers["RateLimit-Reset"] = str(max(0, math.ceil(reset_at - time.time())))
        return response
