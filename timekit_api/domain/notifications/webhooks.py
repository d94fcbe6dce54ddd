"""Deliver one webhook request, and say when to try again.

The caller (the outbox worker) owns state: which delivery, how many attempts, when next. This module
only sends one signed POST and reports what happened, so it is easy to test against a real server.
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from .signing import SIGNATURE_HEADER, SIGNATURE_V2_HEADER, signature, signature_v2
from .urlguard import UnsafeUrl, resolve_host, resolve_public

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "timekit-api-webhooks"
MAX_ERROR_LENGTH = 500
MAX_DRAIN = 64 * 1024

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


class _PinnedMixin:
    """Resolve, check, and connect to a checked address in one step: no window for DNS rebinding.

    urllib3 keeps the original host for the Host header, SNI and certificate checks; only the
    TCP connect target is replaced.
    """

    def _new_conn(self) -> socket.socket:
        addresses = resolve_host(self._dns_host, self.port)  # type: ignore[attr-defined]
        last: Exception | None = None
        for _family, address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),  # type: ignore[attr-defined]
                    self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except TimeoutError as error:
                last = ConnectTimeoutError(self, f"Connection to {address} timed out")
                last.__cause__ = error
            except OSError as error:
                last = NewConnectionError(self, f"Failed to connect to {address}: {error}")
        assert last is not None
        raise last


class _PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose every new connection goes through ``urlguard.resolve_host``."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool,
                                                   "https": _PinnedHTTPSPool}


def _session(pinned: bool) -> requests.Session:
    """Environment proxies and .netrc are ignored: a proxy would bypass the address check."""
    session = requests.Session()
    session.trust_env = False
    if pinned:
        session.mount("http://", PinnedAdapter())
        session.mount("https://", PinnedAdapter())
    return session


_PUBLIC_SESSION = _session(pinned=True)
_PRIVATE_SESSION = _session(pinned=False)


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


def _drain(response: requests.Response, timeout: float) -> None:
    """Read a little of the body so the connection can be reused; the status already decided.

    Errors here do not matter: a receiver that answered 2xx and then stalled still answered.
    """
    deadline, read = time.monotonic() + timeout, 0
    try:
        for chunk in response.iter_content(4096):
            read += len(chunk)
            if read > MAX_DRAIN or time.monotonic() > deadline:
                break
    except requests.RequestException:
        pass


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
    timestamp = int(time.time() if now is None else now)
    try:
        if not allow_private:
            resolve_public(url)  # clear message early; the adapter checks again when connecting
        session = _PRIVATE_SESSION if allow_private else _PUBLIC_SESSION
        headers = build_headers(secret, body, event, delivery_id, timestamp)
        with session.post(url, data=body, headers=headers, timeout=(timeout, timeout),
                          allow_redirects=False, stream=True) as response:
            status = response.status_code
            _drain(response, timeout)
    except UnsafeUrl as error:
        return DeliveryResult(None, _short(str(error)), gone=False, ok=False)
    except requests.Timeout:
        return DeliveryResult(None, f"No answer within {timeout:g} s", gone=False, ok=False)
    except requests.RequestException as error:
        return DeliveryResult(None, _short(f"{type(error).__name__}: {error}"), gone=False,
                              ok=False)
    if 200 <= status < 300:
        return DeliveryResult(status, None, gone=False, ok=True)
    if 300 <= status < 400:
        error_text = f"HTTP {status}: redirects are not followed"
    else:
        error_text = f"HTTP {status}"
    return DeliveryResult(status, error_text, gone=status == 410, ok=False)
