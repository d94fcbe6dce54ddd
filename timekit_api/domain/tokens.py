"""Tokens: random, stored only as SHA-256 digests, expiring, revocable.

Authentication reads the caller as plain values (:class:`Principal`) in one prebuilt Core
query on the session's connection: the read path that every protected request takes
(benchmarks/PROFILE.md, "authentication").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from ..database import db, utcnow
from ..database.models import ApiToken, User

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
    token_id: int
    token_scopes: str | None  # space-separated; None for a full-access token

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
    now = utcnow()
    row = ApiToken(digest=digest(plain), user=user, kind=kind, scopes=scopes, pair_id=pair_id,
                   created_at=now, expires_at=now + dt.timedelta(seconds=ttl_seconds))
    db.session.add(row)
    return plain, row


_users, _tokens = User.__table__.c, ApiToken.__table__.c
LIVE_TOKEN = (
    sa.select(_users.id, _users.username, _users.email, _tokens.id, _tokens.scopes)
    .join_from(ApiToken.__table__, User.__table__, _users.id == _tokens.user_id)
    .where(_tokens.digest == sa.bindparam("digest"), _tokens.expires_at > sa.bindparam("now"))
)


def find_principal(plain: str) -> Principal | None:
    """The caller that the live token ``plain`` stands for, in one indexed query."""
    if not plain or len(plain) > 256:
        return None
    row = db.session.connection().execute(
        LIVE_TOKEN, {"digest": digest(plain), "now": utcnow()}).first()
    return Principal(*row) if row else None


def new_pair_id() -> str:
    return secrets.token_hex(16)


def revoke(principal: Principal) -> None:
    """Revoke the token ``principal`` signed in with, and the other token of its pair."""
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
