"""Tokens: random, stored only as SHA-256 digests, expiring, revocable.

Authentication reads the caller as plain values (:class:`Principal`) in one prebuilt Core
query on the session's connection: the read path that every protected request takes
(benchmarks/PROFILE.md, "authentication"). Long-lived API keys (``live_api_key_...``,
managed by ``domain/credentials.py``) are recognised by their prefix and read by a second
prebuilt query on the ``credentials`` table, in the same path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from ..database import UTCDateTime, db
from ..database.models import ApiToken, Credential, User
from . import clock

READ_PETS, WRITE_PETS = "read:pets", "write:pets"
PET_SCOPES = (READ_PETS, WRITE_PETS)
# The permission to manage the account (user records, batches of users): held only by
# tokens without scope limits, never by a scoped OAuth2 token (contract section 3).
ACCOUNT = "account"
PERMISSIONS = (READ_PETS, WRITE_PETS, ACCOUNT)


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling, and with which token."""

    user_id: int
    username: str
    email: str | None
    token_id: int | None  # None when the caller used an API key
    token_scopes: str | None  # space-separated; None for a full-access token
    credential_id: int | None = None  # the API key's id, when the caller used one

    @property
    def credential_ref(self) -> str:
        """Names the credential used, whatever its kind (e.g. a rate-limit bucket)."""
        if self.credential_id is not None:
            return f"key:{self.credential_id}"
        return f"token:{self.token_id}"

    @property
    def permissions(self) -> frozenset[str]:
        """What this token may do: its scopes, or everything for a token without limits."""
        if self.token_scopes is None:
            return frozenset(PERMISSIONS)
        return frozenset(self.token_scopes.split()) & frozenset(PET_SCOPES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(user: User, kind: str, ttl_seconds: int,
                scopes: str | None = None, pair_id: str | None = None) -> tuple[str, ApiToken]:
    """Create a token for ``user``; returns the plain token (shown once) and its row.
    Tokens issued with one ``pair_id`` (``new_pair_id()``) are revoked together."""
    plain = secrets.token_urlsafe(32)
    now = clock.now()
    row = ApiToken(digest=digest(plain), user=user, kind=kind, scopes=scopes, pair_id=pair_id,
                   created_at=now, expires_at=now + dt.timedelta(seconds=ttl_seconds))
    db.session.add(row)
    return plain, row


_users, _tokens = User.__table__.c, ApiToken.__table__.c
# The token, its user and the service clock's offset in one query: expiry is decided
# against the service's time, and the offset is kept for the rest of the request.
TOKEN_AND_CLOCK = (
    sa.select(_users.id, _users.username, _users.email, _tokens.id, _tokens.scopes,
              _tokens.expires_at, clock.READ_OFFSET.scalar_subquery())
    .join_from(ApiToken.__table__, User.__table__, _users.id == _tokens.user_id)
    .where(_tokens.digest == sa.bindparam("digest"))
)


def find_principal(plain: str) -> Principal | None:
    """The caller that the live token ``plain`` stands for, in one indexed query."""
    if not plain or len(plain) > 256:
        return None
    if plain.startswith(API_KEY_PREFIX):
        return find_key_principal(plain)
    row = db.session.connection().execute(TOKEN_AND_CLOCK, {"digest": digest(plain)}).first()
    if row is None:
        return None
    *principal, expires_at, offset_microseconds = row
    now = clock.remember_offset(offset_microseconds)
    return Principal(*principal) if expires_at > now else None


def new_pair_id() -> str:
    return secrets.token_hex(16)


def revoke(principal: Principal) -> None:
    """Revoke the token (or API key) ``principal`` signed in with, and for a token the other
    token of its pair."""
    if principal.credential_id is not None:
        db.session.execute(sa.delete(Credential).where(Credential.id == principal.credential_id))
        return
    pair = sa.select(ApiToken.pair_id).where(ApiToken.id == principal.token_id).scalar_subquery()
    db.session.execute(sa.delete(ApiToken).where(
        (ApiToken.id == principal.token_id) | (ApiToken.pair_id == pair)))


def revoke_all(user_id: int) -> None:
    """Revoke every token of the user (``GET /user/logout?all=true``)."""
    db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user_id))


def revoke_others(user_id: int, keep_token_id: int | None) -> None:
    """Revoke every token of the user but ``keep_token_id`` (after a password change)."""
    db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user_id,
                                                 ApiToken.id != (keep_token_id or 0)))



# --- API keys (issue 17): the read path of ``live_api_key_...`` credentials ----------------

API_KEY_PREFIX = "live_api_key_"
# ``last_used_at`` is refreshed at most once per key per this interval, never per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

_keys = Credential.__table__.c
LIVE_KEY = (
    sa.select(_users.id, _users.username, _users.email, sa.null(), _keys.scopes, _keys.id,
              _keys.last_used_at)
    .join_from(Credential.__table__, User.__table__, _users.id == _keys.user_id)
    .where(_keys.digest == sa.bindparam("digest"),
           sa.or_(_keys.expires_at.is_(None), _keys.expires_at > sa.bindparam("now")))
)
TOUCH_KEY = (
    sa.update(Credential.__table__)
    .where(_keys.id == sa.bindparam("key_id"),
           sa.or_(_keys.last_used_at.is_(None), _keys.last_used_at < sa.bindparam("stale")))
    .values(last_used_at=sa.bindparam("now", type_=UTCDateTime))
)


def find_key_principal(plain: str) -> Principal | None:
    """The caller that the live API key ``plain`` stands for, read on every request from the
    database (no per-process cache: a deleted key or user is refused at once everywhere)."""
    now = clock.now()
    row = db.session.connection().execute(LIVE_KEY, {"digest": digest(plain), "now": now}).first()
    if row is None:
        return None
    *fields, last_used_at = row
    if last_used_at is None or last_used_at < now - LAST_USED_RESOLUTION:
        touch_key(fields[5], now)
    return Principal(*fields)


def touch_key(key_id: int, now: dt.datetime) -> None:
    """Record the key's use in its own short transaction (the request's may never commit).
    The condition makes concurrent instances agree: at most one UPDATE per key per minute."""
    with db.engine.begin() as connection:
        connection.execute(TOUCH_KEY, {"key_id": key_id, "now": now,
                                       "stale": now - LAST_USED_RESOLUTION})
