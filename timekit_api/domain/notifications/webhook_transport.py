"""The HTTP client under ``webhooks.deliver``: requests, with every connection pinned to an
address ``urlguard`` checked. A module of its own so that requests and urllib3 are imported by
the first delivery only.
"""

from __future__ import annotations

import socket
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from .urlguard import resolve_host

MAX_DRAIN = 64 * 1024


class NoAnswer(Exception):
    """The receiver gave no HTTP status: a timeout, a refused or broken connection."""


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


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, *,
         pinned: bool) -> int:
    """POST once and return the receiver's status (its body is drained, not read);
    :class:`NoAnswer` when there was none, ``urlguard.UnsafeUrl`` for a refused address."""
    session = _PUBLIC_SESSION if pinned else _PRIVATE_SESSION
    try:
        with session.post(url, data=body, headers=headers, timeout=(timeout, timeout),
                          allow_redirects=False, stream=True) as response:
            _drain(response, timeout)
            return response.status_code
    except requests.Timeout as error:
        raise NoAnswer(f"No answer within {timeout:g} s") from error
    except requests.RequestException as error:
        raise NoAnswer(f"{type(error).__name__}: {error}") from error
