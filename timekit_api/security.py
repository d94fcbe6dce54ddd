"""Credentials, tokens and the access policy: the one place that decides who may do what.

Credentials (contract section 3), tried in this order on every protected operation:
``Authorization: Bearer <token>``, header ``api_key``/``api-key: <token>``, and
``Authorization: Basic base64(email-or-username:api_token)``.
Tokens are random, stored only as SHA-256 digests, expire, and can be revoked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import math
import secrets
import threading
import time

import sqlalchemy as sa
from flask import current_app
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from flask_smorest import abort
from werkzeug.security import check_password_hash, generate_password_hash

from .booking.graphs import ACTORS, BOOKER, BOOKER_OR_OWNER, OWNER, Transition
from .errors import error_response
from .extensions import db
from .models import ApiToken, LoginThrottle, User, utcnow

PET_SCOPES = ("read:pets", "write:pets")
SCHEME_NAMES = ("api_key", "petstore_auth", "bearer_token", "basic_token")
AUTHENTICATE_HEADER = 'Bearer realm="Timekit API"'


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling, and with which token: plain values from one Core query, since most
    operations need only the user's id and building ORM objects per request is costly."""

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


# --- tokens -------------------------------------------------------------------------------

def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(user: User, kind: str, scopes: str | None = None) -> tuple[str, ApiToken]:
    """Create a token for ``user``; returns the plain token (shown once) and its row."""
    plain = secrets.token_urlsafe(32)
    ttl = dt.timedelta(seconds=current_app.config["TOKEN_TTL_SECONDS"])
    row = ApiToken(digest=digest(plain), user=user, kind=kind, scopes=scopes,
                   created_at=utcnow(), expires_at=utcnow() + ttl)
    db.session.add(row)
    return plain, row


# Built once, on the tables rather than the mapped classes, and run on the session's
# connection: the ORM's statement and result handling cost more than the query itself.
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


def revoke(principal: Principal) -> None:
    """Revoke the token ``principal`` signed in with."""
    db.session.execute(sa.delete(ApiToken).where(ApiToken.id == principal.token_id))


def find_user(login: str) -> User | None:
    """A user by username or, when ``login`` looks like one, by email."""
    column = User.email if "@" in login else User.username
    user = db.session.scalars(sa.select(User).where(column == login)).first()
    if user is None and "@" in login:
        user = db.session.scalars(sa.select(User).where(User.username == login)).first()
    return user


# --- Flask-HTTPAuth wiring -----------------------------------------------------------------

bearer_auth = HTTPTokenAuth(scheme="Bearer")
# Werkzeug maps both "api_key" and "api-key" to HTTP_API_KEY, so one object reads both.
api_key_auth = HTTPTokenAuth(scheme="ApiKey", header="api_key")
basic_auth = HTTPBasicAuth()
multi_auth = MultiAuth(bearer_auth, api_key_auth, basic_auth)


bearer_auth.verify_token(find_principal)
api_key_auth.verify_token(find_principal)


@basic_auth.verify_password
def _principal_for_basic(login: str, api_token: str) -> Principal | None:
    principal = find_principal(api_token)
    if principal and login in (principal.username, principal.email):
        return principal
    return None


def _roles(principal: Principal):
    return list(principal.scopes)


def _auth_error(status: int):
    if status == 403:
        return error_response(403, "Token lacks the scope this operation needs")
    return error_response(401, "Missing, invalid or expired credentials",
                          headers={"WWW-Authenticate": AUTHENTICATE_HEADER})


# Each auth object gets its own handler (stacked handlers answer with the wrong header).
for _auth in (bearer_auth, api_key_auth, basic_auth):
    _auth.get_user_roles(_roles)
    _auth.error_handler(_auth_error)


def current_principal() -> Principal | None:
    return multi_auth.current_user()


def current_user_id() -> int:
    """The signed-in user's id; only valid inside an operation guarded by ``login_required``."""
    return multi_auth.current_user().user_id


# --- access policy -------------------------------------------------------------------------

# Contract section 3: each object belongs to one user. Others get 403, or 404 where the
# object's existence must not leak. One table, read by every operation.
HIDDEN_FROM_OTHERS = {
    "Pet": False,      # pets are public to read; only their owner may change them
    "User": False,     # user records: only the user themself
    "Order": True,     # orders are private to whoever placed them
    "Booking": True,   # bookings: the booker and the pet's owner
}


def require_owner(kind: str, owner_ids: int | None | tuple[int | None, ...]) -> None:
    """Abort unless the signed-in user is (one of) the owner(s) of an object of ``kind``."""
    ids = owner_ids if isinstance(owner_ids, tuple) else (owner_ids,)
    if current_user_id() in ids:
        return
    if HIDDEN_FROM_OTHERS[kind]:
        abort(404, message=f"{kind} not found")
    abort(403, message=f"This {kind.lower()} belongs to another user")


# Bookings (contract section 3): a booking concerns two users, its booker and the owner of
# the booked pet; others are told it does not exist (HIDDEN_FROM_OTHERS). Which of the two
# may apply an action is the graph's data (``Transition.actor``); this table says who plays
# each actor role.
BOOKING_ACTORS = {
    BOOKER: frozenset({BOOKER}),
    OWNER: frozenset({OWNER}),
    BOOKER_OR_OWNER: frozenset({BOOKER, OWNER}),
}
assert set(BOOKING_ACTORS) == ACTORS, "every actor a graph may name needs a rule here"


def booking_roles(booker_id: int | None, owner_id: int | None) -> frozenset[str]:
    """The roles the signed-in user plays in a booking: booker, owner, both or none."""
    me = current_user_id()
    return frozenset(role for role, ident in ((BOOKER, booker_id), (OWNER, owner_id))
                     if ident is not None and ident == me)


def may_act(actor: str, roles: frozenset[str]) -> bool:
    """Whether someone playing ``roles`` may perform a transition done by ``actor``."""
    return bool(BOOKING_ACTORS[actor] & roles)


def require_booking_actor(transition: Transition, roles: frozenset[str]) -> None:
    """403 unless ``roles`` include the transition's actor (visibility is checked before)."""
    if not may_act(transition.actor, roles):
        who = {BOOKER: "the booker", OWNER: "the pet's owner",
               BOOKER_OR_OWNER: "the booker or the pet's owner"}[transition.actor]
        abort(403, message=f"Only {who} may apply action '{transition.action}'")


def security_requirements(scope: str | None) -> list[dict]:
    """OpenAPI ``security`` for an operation: any one of the schemes will do."""
    return [{"api_key": []}, {"petstore_auth": [scope] if scope else []},
            {"bearer_token": []}, {"basic_token": []}]


def security_schemes(token_url: str) -> dict:
    return {
        "api_key": {"type": "apiKey", "name": "api_key", "in": "header",
                    "description": "A token from `POST /auth`, `GET /user/login` or "
                                   "`POST /oauth/token` (`api-key` is accepted too)"},
        "petstore_auth": {"type": "oauth2", "flows": {"password": {
            "tokenUrl": token_url,
            "scopes": {"read:pets": "read your pets", "write:pets": "modify pets in your account"},
        }}},
        "bearer_token": {"type": "http", "scheme": "bearer",
                         "description": "Any issued token as `Authorization: Bearer <token>`"},
        "basic_token": {"type": "http", "scheme": "basic",
                        "description": "Timekit's scheme: email (or username) and `api_token`"},
    }


# --- passwords and sign-in ------------------------------------------------------------------

# scrypt takes 32 MiB per call, and glibc keeps what it freed: 4 threads hashing at once
# left the server at 190 MiB for good. One hash at a time per process costs no throughput
# on one core (the work is CPU-bound) and bounds that memory to one buffer.
_one_hash_at_a_time = threading.Lock()


def hash_password(password: str) -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    with _one_hash_at_a_time:
        return generate_password_hash(password, method=method)


def _check_password(password_hash: str, password: str) -> bool:
    with _one_hash_at_a_time:
        return check_password_hash(password_hash, password)


@functools.cache
def _decoy_hash() -> str:
    with _one_hash_at_a_time:
        return generate_password_hash("decoy password", method="scrypt")


def verify_login(login: str, password: str) -> User | None:
    """The user whose login and password these are, or None.

    Failed attempts are counted per account in the database (so every instance sees
    them): past a threshold each failure is answered more slowly, and past a second one
    the account refuses sign-in with 429 for a while.
    """
    config = current_app.config
    user = find_user(login) if login and len(login) <= 254 else None
    if user is None:
        _check_password(_decoy_hash(), password)  # same cost as a real check
        return None
    now = utcnow()
    throttle = db.session.get(LoginThrottle, user.id)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        wait = math.ceil((throttle.locked_until - now).total_seconds())
        abort(429, message="Too many failed sign-in attempts; try again later",
              headers={"Retry-After": str(wait)})
    if _check_password(user.password_hash, password):
        if throttle:
            throttle.failures, throttle.locked_until = 0, None
        return user
    if throttle is None:
        throttle = LoginThrottle(user_id=user.id, failures=0)
        db.session.add(throttle)
        db.session.flush()
    db.session.execute(sa.update(LoginThrottle).where(LoginThrottle.user_id == user.id)
                       .values(failures=LoginThrottle.failures + 1))
    db.session.refresh(throttle)
    failures = throttle.failures
    if failures >= config["LOGIN_FAILURES_BEFORE_LOCK"]:
        throttle.failures = 0
        throttle.locked_until = now + dt.timedelta(seconds=config["LOGIN_LOCK_SECONDS"])
    db.session.commit()  # the count must survive the failed request
    excess = failures - config["LOGIN_FAILURES_BEFORE_DELAY"]
    if excess > 0:
        time.sleep(min(excess * config["LOGIN_FAILURE_DELAY_SECONDS"], 5.0))
    return None
