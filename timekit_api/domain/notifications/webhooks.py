"""Deliver one webhook request, and say when to try again.

The caller (the outbox worker) owns state: which delivery, how many attempts, when next. This module
only sends one signed POST and reports what happened, so it is easy to test against a real server.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from .signing import SIGNATURE_HEADER, SIGNATURE_V2_HEADER, signature, signature_v2
from .urlguard import UnsafeUrl, resolve_public

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "timekit-api-webhooks"
MAX_ERROR_LENGTH = 500

# Contract section 8: about 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, then failed.
BACKOFF = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
JITTER = 0.1  # +-10 %: spreads retries of many deliveries that failed together


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt gave: the receiver's status (None when it never answered) or an error."""

    status_code: int | None
    error: str | None
    gone: bool
    ok: bool


def next_attempt_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta | None:
    """Delay before the next try after ``attempts`` failed ones; None once the schedule is used up.

    ``attempts`` counts attempts already made (1 after the first failure).
    """
    if attempts < 1 or attempts > len(BACKOFF):
        return None
    base = BACKOFF[attempts - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return timedelta(seconds=base.total_seconds() * factor)


def build_headers(secret: str | bytes, body: bytes, event: str, delivery_id: str,
                  timestamp: int) -> dict[str, str]:
    """The request headers of contract section 8; separate so the worker can log or test them."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, body),
        SIGNATURE_V2_HEADER: signature_v2(secret, body, timestamp),
        "x-timekit-event": event,
        "x-timekit-delivery": str(delivery_id),
    }


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def deliver(
    url: str,
    secret: str | bytes,
    body: bytes,
    event: str,
    delivery_id: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    allow_private: bool = False,
    now: float | None = None,
) -> DeliveryResult:
    """POST ``body`` once; never raises for network or receiver trouble, the result says it.

    ``timeout`` bounds the connect and every wait for bytes of the answer (status line and
    headers included); the body, which nobody needs, is read for at most ``timeout`` and 64 KiB.
    Redirects are not followed: a 3xx is a failed attempt (following would undo the URL check).
    """
    # requests and urllib3 (6 MiB) are loaded by the first delivery, not by every process
    # that imports the outbox (a server that never delivers, the CLI).
    from . import webhook_transport as transport

    timestamp = int(time.time() if now is None else now)
    try:
        if not allow_private:
            resolve_public(url)  # clear message early; the adapter checks again when connecting
        headers = build_headers(secret, body, event, delivery_id, timestamp)
        status = transport.post(url, body, headers, timeout, pinned=not allow_private)
    except UnsafeUrl as error:
        return DeliveryResult(None, _short(str(error)), gone=False, ok=False)
    except transport.NoAnswer as error:
        return DeliveryResult(None, _short(str(error)), gone=False, ok=False)
    if 200 <= status < 300:
        return DeliveryResult(status, None, gone=False, ok=True)
    if 300 <= status < 400:
        error_text = f"HTTP {status}: redirects are not followed"
    else:
        error_text = f"HTTP {status}"
    return DeliveryResult(status, error_text, gone=status == 410, ok=False)
