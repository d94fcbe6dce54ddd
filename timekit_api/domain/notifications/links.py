"""Signed, expiring links that let a pet's owner confirm or decline a booking from an email.

The token binds booking id, action and a nonce under the server's secret; the salt keeps a token
made for one purpose from being accepted for another. Single use is NOT enforced here: the caller
stores the nonce when it issues the link and consumes it (in the same transaction as the action),
so a replayed link finds its nonce gone. Expiry is checked here from the signed timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

BOOKING_ACTION_PURPOSE = "booking-external-action"
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600  # contract section 8: 7 days unless configured

Secret = str | bytes | Sequence[str | bytes]


class InvalidLink(ValueError):
    """The link was altered, made with another key or for another purpose, or is malformed."""


class ExpiredLink(InvalidLink):
    """The link is genuine but older than allowed; a subclass so callers may treat both alike."""


def _serializer(secret: Secret, purpose: str, now: float | None) -> URLSafeTimedSerializer:
    """A serializer, with the clock fixed when ``now`` is given (tests)."""
    keys = list(secret) if isinstance(secret, list | tuple) else secret
    salt = f"timekit-api.{purpose}"
    if now is None:
        return URLSafeTimedSerializer(keys, salt=salt)

    class _FixedClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now)

    return URLSafeTimedSerializer(keys, salt=salt, signer=_FixedClock)


def make_action_token(
    secret: Secret,
    booking_id: str,
    action: str,
    nonce: str,
    *,
    purpose: str = BOOKING_ACTION_PURPOSE,
    now: float | None = None,
) -> str:
    """A URL-safe token for ``?signature=``; a list of secrets signs with the last (rotation)."""
    return _serializer(secret, purpose, now).dumps([str(booking_id), action, nonce])


def read_action_token(
    secret: Secret,
    token: str,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    *,
    booking_id: str | None = None,
    action: str | None = None,
    purpose: str = BOOKING_ACTION_PURPOSE,
    now: float | None = None,
) -> tuple[str, str, str]:
    """``(booking_id, action, nonce)`` of a genuine, unexpired token, else ``InvalidLink``.

    Pass ``booking_id``/``action`` from the URL path so a token for one booking or action cannot
    be pasted onto another. A list of secrets accepts any of them (rotation).
    """
    try:
        payload = _serializer(secret, purpose, now).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise ExpiredLink("This link has expired") from None
    except BadSignature:
        raise InvalidLink("This link is not valid") from None
    if (not isinstance(payload, list) or len(payload) != 3
            or not all(isinstance(part, str) for part in payload)):
        raise InvalidLink("This link is not valid")
    found_id, found_action, nonce = payload
    if booking_id is not None and found_id != str(booking_id):
        raise InvalidLink("This link is for another booking")
    if action is not None and found_action != action:
        raise InvalidLink("This link is for another action")
    return found_id, found_action, nonce
