"""Refuse webhook URLs that would make the service call into its own network (SSRF).

A URL is checked twice: when a webhook is saved (``validate_url``) and when a delivery connects.
Checking the name only at save time is not enough: DNS can answer differently later (rebinding).
So the delivery side resolves the host, checks every address, and connects to one of exactly those
checked addresses (``resolve_host``; see ``webhook_transport.PinnedAdapter``), leaving TLS to
verify the certificate against the original host name.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048

# Carrier-grade NAT space; ``is_private`` says False for it on some Python versions.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# NAT64 well-known prefix: the low 32 bits are an IPv4 address a gateway will reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL may not be used for a webhook; the message says why, for a 400 or a delivery log."""


class UnresolvableHost(UnsafeUrl):
    """The host name does not resolve now; at delivery this is worth retrying, unlike the rest."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64), each reachable."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def non_public_reason(address: Address) -> str | None:
    """Why an address is not public, or None when it is; one rule per kind for a clear message."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            reason = non_public_reason(inner)
            if reason:
                return f"{reason} (inside {address})"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("shared (carrier-grade NAT)",
         isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def is_public_address(address: str | Address) -> bool:
    """True for an address a webhook may reach when private networks are not allowed."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str)
                                      else address)
    except ValueError:
        return False
    return non_public_reason(parsed) is None


def _split(url: str) -> tuple[SplitResult, str, int]:
    """Syntax checks shared by both entry points; returns the parts, host and port."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("The webhook URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("The webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"The webhook URL is malformed: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        given = parts.scheme or "nothing"
        raise UnsafeUrl(f"The webhook URL must use http or https, not {given!r}")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("The webhook URL has no host")
    if port == 0:
        raise UnsafeUrl("The webhook URL has port 0")
    return parts, host, port or DEFAULT_PORTS[scheme]


def resolve_host(host: str, port: int, *, allow_private: bool = False) -> list[tuple[int, str]]:
    """Every (family, address) the host resolves to, refusing all when any one is not public.

    Refusing on any (not just skipping the bad ones) keeps a name that mixes a public and an
    internal address from being used as a round-robin way in.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvableHost(f"The webhook host {host!r} does not resolve: {error}") from None
    addresses: list[tuple[int, str]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = str(sockaddr[0])
        if not allow_private:
            try:
                parsed = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                raise UnsafeUrl(f"The webhook host {host!r} gave an unusable address") from None
            reason = non_public_reason(parsed)
            if reason:
                raise UnsafeUrl(
                    f"The webhook host {host!r} resolves to {address}, a {reason} address; "
                    "only public addresses are allowed")
        if (family, address) not in addresses:
            addresses.append((family, address))
    if not addresses:
        raise UnresolvableHost(f"The webhook host {host!r} has no IPv4 or IPv6 address")
    return addresses


def validate_url(url: str, *, allow_private: bool = False) -> str:
    """Check a URL when a webhook is saved; returns it unchanged, or raises ``UnsafeUrl``.

    With ``allow_private`` only the syntax is checked, so local setups may name hosts that do not
    resolve yet (containers starting later).
    """
    _parts, host, port = _split(url)
    if not allow_private:
        resolve_host(host, port)
    return url


def resolve_public(url: str, allow_private: bool = False) -> list[tuple[int, str]]:
    """Check a URL and return the (family, address) pairs that were checked, to connect to."""
    _parts, host, port = _split(url)
    return resolve_host(host, port, allow_private=allow_private)
