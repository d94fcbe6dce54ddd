"""Accounts: users, the username rule, passwords and sign-in throttling.

The username rule lives here once: the HTTP schemas and the CLI both read it, so no path
can create a user that the API could never address.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import math
import re
import threading
import time

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import db
from ..database.models import LoginThrottle, User
from . import clock
from .errors import Invalid, InvalidUsername, TooManyAttempts, UsernameTaken, UserNotFound

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
USERNAME_RULE = "1 to 64 letters, digits or . _ @ + -"
MAX_PASSWORD_LENGTH = 1024


def check_username(username: str) -> None:
    if not isinstance(username, str) or not USERNAME_PATTERN.match(username):
        raise InvalidUsername(f"Invalid username {username!r}: {USERNAME_RULE}",
                              errors={"username": [USERNAME_RULE]})


# --- passwords --------------------------------------------------------------------------------

# One hash at a time per process bounds scrypt's 32 MiB buffers to one (benchmarks/PROFILE.md,
# "hashing lock"); the work is CPU-bound, so one core loses no throughput.
_one_hash_at_a_time = threading.Lock()


def hash_password(password: str, method: str) -> str:
    with _one_hash_at_a_time:
        return generate_password_hash(password, method=method)


def _check_password(password_hash: str, password: str) -> bool:
    with _one_hash_at_a_time:
        return check_password_hash(password_hash, password)


@functools.cache
def _decoy_hash() -> str:
    with _one_hash_at_a_time:
        return generate_password_hash("decoy password", method="scrypt")


# --- users ------------------------------------------------------------------------------------

def find_user(login: str) -> User | None:
    """A user by username or, when ``login`` looks like one, by email."""
    column = User.email if "@" in login else User.username
    user = db.session.scalars(sa.select(User).where(column == login)).first()
    if user is None and "@" in login:
        user = db.session.scalars(sa.select(User).where(User.username == login)).first()
    return user


def get_user(username: str) -> User:
    """The user called ``username``; InvalidUsername or UserNotFound otherwise."""
    if not USERNAME_PATTERN.match(username):
        raise InvalidUsername("Invalid username supplied")
    user = db.session.scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        raise UserNotFound("User not found")
    return user


def ensure_free(users: list[dict], *, except_id: int | None = None) -> None:
    """UsernameTaken when a username, email or id is taken (stored, or twice in the batch)."""
    for field in ("username", "email", "id"):
        values = [u[field] for u in users if u.get(field) is not None]
        if field == "id":
            values = [v for v in values if v >= 1]
        if len(set(values)) != len(values):
            raise UsernameTaken(f"The same {field} appears twice in the request")
        if not values:
            continue
        column = getattr(User, field)
        query = sa.select(column).where(column.in_(values))
        if except_id is not None:
            query = query.where(User.id != except_id)
        taken = db.session.scalars(query.limit(1)).first()
        if taken is not None:
            raise UsernameTaken(f"{field} {taken!r} is already taken")


def _new_user(data: dict, hash_method: str) -> User:
    data = dict(data)
    check_username(data.get("username"))
    password = data.pop("password", None)
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid("A password is required", errors={"password": ["Required."]})
    user_id = data.pop("id", None)
    user = User(password_hash=hash_password(password, hash_method), **data)
    if user_id is not None and user_id >= 1:
        user.id = user_id
    return user


def create_users(batch: list[dict], hash_method: str) -> list[User]:
    """All or nothing: one transaction for the whole batch (committed here)."""
    for data in batch:
        check_username(data.get("username"))
    ensure_free(batch)
    users = [_new_user(data, hash_method) for data in batch]
    db.session.add_all(users)
    db.session.commit()
    return users


def update_user(user: User, data: dict, hash_method: str) -> User:
    data = dict(data)
    data.pop("id", None)  # ids never change
    if "username" in data:
        check_username(data["username"])
    ensure_free([data], except_id=user.id)
    if "password" in data:
        user.password_hash = hash_password(data.pop("password"), hash_method)
    for field, value in data.items():
        setattr(user, field, value)
    db.session.commit()
    return user


def delete_user(user: User) -> None:
    """Their tokens and orders go with them; their pets stay without an owner."""
    db.session.delete(user)
    db.session.commit()


@dataclasses.dataclass(frozen=True)
class SignIn:
    """A user with the token pair ``POST /auth`` issued (Timekit's user object)."""

    user: User
    token: str
    api_token: str
    issued_at: dt.datetime

    @property
    def display_name(self) -> str:
        names = [n for n in (self.user.first_name, self.user.last_name) if n]
        return " ".join(names) or self.user.username

    @property
    def avatar_url(self) -> str:
        # Gravatar addresses avatars by the MD5 of the address: an identifier, not a secret.
        key = hashlib.md5((self.user.email or "").strip().lower().encode()).hexdigest()
        return f"https://www.gravatar.com/avatar/{key}"


# --- sign-in ----------------------------------------------------------------------------------

def verify_login(login: str, password: str, config) -> User | None:
    """The user whose login and password these are, or None.

    Failed attempts are counted per account in the database (so every instance sees
    them): past a threshold each failure is answered more slowly, and past a second one
    the account refuses sign-in (TooManyAttempts) for a while.
    """
    user = find_user(login) if login and len(login) <= 254 else None
    if user is None:
        _check_password(_decoy_hash(), password)  # same cost as a real check
        return None
    now = clock.now()
    throttle = db.session.get(LoginThrottle, user.id)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        wait = math.ceil((throttle.locked_until - now).total_seconds())
        raise TooManyAttempts("Too many failed sign-in attempts; try again later",
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
