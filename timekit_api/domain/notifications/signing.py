"""Webhook signatures: Timekit's plain HMAC, and a timestamped v2 so receivers refuse replays."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "x-timekit-signature"
SIGNATURE_V2_HEADER = "x-timekit-signature-v2"
DEFAULT_TOLERANCE_SECONDS = 300


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: str | bytes, raw_body: bytes) -> str:
    """Timekit's header: hex HMAC-SHA256 of the exact bytes sent (receivers must not re-encode)."""
    return hmac.new(_key(secret), raw_body, hashlib.sha256).hexdigest()


def signature_v2(secret: str | bytes, raw_body: bytes, timestamp: int | float) -> str:
    """``t=<unix>,v1=<hex>`` over ``"<t>." + body``; binding the time makes old captures useless."""
    t = int(timestamp)
    mac = hmac.new(_key(secret), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str | bytes, raw_body: bytes, header: str | None) -> bool:
    """Constant-time check of the plain signature."""
    return bool(header) and _same(signature(secret, raw_body), header.strip())


def verify_v2(
    secret: str | bytes,
    raw_body: bytes,
    header: str | None,
    now: int | float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when some ``v1`` matches and ``t`` is within ``tolerance`` seconds of ``now``.

    Several ``v1`` entries are accepted so a secret can be rotated without a gap.
    """
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(int(now) - timestamp) > tolerance:
        return False
    expected = signature_v2(secret, raw_body, timestamp).split("v1=", 1)[1]
    return any(_same(expected, c) for c in candidates)


def _same(expected: str, given: str) -> bool:
    """Constant-time compare that cannot raise on non-ASCII input from a hostile header."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def generate_secret() -> str:
    """A fresh webhook secret: 32 random bytes, URL-safe, shown once at creation."""
    return secrets.token_urlsafe(32)
