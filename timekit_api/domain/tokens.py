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

from ..database import db
from ..database.models import ApiToken, User
from . import clock

PET_SCOPES = ("read:pets", "write:pets")


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling, and with which token."""

    user_id: int
    username: str
    email: str | None
    token_id: int
    token_scopes: str | None  # space-separated; None for a full-access token

    @property
    def scopes(self) -> frozenset[str]:
        if self.token_scopes is None:
            return frozenset(PET_SCOPES)
        return frozenset(self.token_scopes.split())


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(user: User, kind: str, ttl_seconds: int,
                scopes: str | None = None) -> tuple[str, ApiToken]:
    """Create a token for ``user``; returns the plain token (shown once) and its row."""
    plain = secrets.token_urlsafe(32)
    now = clock.now()
    row = ApiToken(digest=digest(plain), user=user, kind=kind, scopes=scopes,
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
    row = db.session.connection().execute(TOKEN_AND_CLOCK, {"digest": digest(plain)}).first()
    if row is None:
        return None
    *principal, expires_at, offset_microseconds = row
    now = clock.remember_offset(offset_microseconds)
    return Principal(*principal) if expires_at > now else None


def revoke(principal: Principal) -> None:
    """Revoke the token ``principal`` signed in with."""
    db.session.execute(sa.delete(ApiToken).where(ApiToken.id == principal.token_id))
