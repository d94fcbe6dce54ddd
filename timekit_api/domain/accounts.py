"""Accounts: users, the username rule, passwords and sign-in throttling.

The username rule lives here once: the HTTP schemas and the CLI both read it, so no path
can create a user that the API could never address.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import math
import os
import re
import threading
import time
import unicodedata

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import db, lock_row
from ..database.models import AddressThrottle, LoginThrottle, User
from ..settings import SETTINGS
from . import clock
from .errors import (
    Busy,
    Invalid,
    InvalidUsername,
    TooLarge,
    TooManyAttempts,
    UsernameTaken,
    UserNotFound,
)

# No "@": a username can then never equal an email (which always has one), so the two share
# one sign-in namespace without colliding (contract section 3).
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
USERNAME_RULE = "1 to 64 letters, digits or . _ + - (no @)"
# Accounts made before that rule may carry an "@": they can still be read and signed in to.
STORED_USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
PASSWORD_RULE = f"{MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
MAX_BATCH_USERS = 100


def login_key(value: str) -> str:
    """The form in which usernames and emails are compared: Unicode NFKC, then case folding
    ("USER1", "user1" and "ｕｓｅｒ１" are one name). Stored values keep the client's spelling."""
    return unicodedata.normalize("NFKC", value).casefold()


def check_username(username: str) -> None:
    if (not isinstance(username, str) or not USERNAME_PATTERN.match(username)
            or "@" in login_key(username)):
        raise InvalidUsername(f"Invalid username {username!r}: {USERNAME_RULE}",
                              errors={"username": [USERNAME_RULE]})


def check_password(password) -> None:
    if not isinstance(password, str) or not (
            MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH):
        raise Invalid(f"The password must have {PASSWORD_RULE}",
                      errors={"password": [PASSWORD_RULE]})


def check_batch_size(count: int) -> None:
    """TooLarge (413) past MAX_BATCH_USERS: checked before any password is hashed."""
    if count > MAX_BATCH_USERS:
        raise TooLarge(f"At most {MAX_BATCH_USERS} users per request; this one has {count}")


# --- passwords --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Hashing:
    """How passwords are hashed, and how many hashes may run at once.

    A hash holds a CPU for a tenth of a second and scrypt its working memory (8 MiB with
    the default parameters), so at most ``concurrency`` run at once per process (memory
    stays bounded, benchmarks/PROFILE.md "hashing lock"); a request that cannot get a slot
    within ``wait_seconds`` is refused with Busy (503 + Retry-After) instead of holding a
    server thread in a queue. The defaults are the settings' (``settings.SETTINGS``).
    """

    method: str = SETTINGS["PASSWORD_HASH_METHOD"][0]
    concurrency: int = SETTINGS["PASSWORD_HASH_CONCURRENCY"][0]
    wait_seconds: float = SETTINGS["PASSWORD_HASH_WAIT_SECONDS"][0]

    @classmethod
    def from_config(cls, config) -> Hashing:
        return cls(config["PASSWORD_HASH_METHOD"], config["PASSWORD_HASH_CONCURRENCY"],
                   config["PASSWORD_HASH_WAIT_SECONDS"])

    @contextlib.contextmanager
    def slot(self):
        slots = _hashing_slots(max(1, self.concurrency))
        if not slots.acquire(timeout=self.wait_seconds):
            raise Busy("Too many password checks in progress; try again shortly",
                       headers={"Retry-After": str(max(1, math.ceil(self.wait_seconds)))})
        try:
            yield
        finally:
            slots.release()


@functools.cache
def _hashing_slots(concurrency: int) -> threading.BoundedSemaphore:
    """One set of slots per process (per configured size)."""
    return threading.BoundedSemaphore(concurrency)


HASHING_NICENESS = 19


def _lower_priority() -> None:
    """Run this (hashing) thread at a lower OS priority, so that while hashes run, requests
    that need no hash still get the CPU first (Linux schedules threads one by one; the hash
    functions release the GIL). A no-op where threads have no priority of their own."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):
        pass


@functools.cache
def _hashers(concurrency: int) -> concurrent.futures.ThreadPoolExecutor:
    """The threads that compute hashes (one per slot), started on first use."""
    return concurrent.futures.ThreadPoolExecutor(concurrency, "password-hashing",
                                                 initializer=_lower_priority)


def _hash_work(hashing: Hashing, work, *args):
    """``work(*args)`` on a hashing thread, once a slot is free (Busy after the wait)."""
    with hashing.slot():
        return _hashers(max(1, hashing.concurrency)).submit(_timed, hashing, work, *args).result()


# How long a password check took lately, per hash method: an unknown user's sign-in waits
# that long instead of computing a decoy hash (``_decoy_check``).
_check_seconds: dict[str, float] = {}
_RECENT = 0.2  # weight of the newest check in the moving average


def _timed(hashing: Hashing, work, *args):
    started = time.perf_counter()
    try:
        return work(*args)
    finally:
        took = time.perf_counter() - started
        last = _check_seconds.get(hashing.method)
        _check_seconds[hashing.method] = took if last is None else (
            last + _RECENT * (took - last))


def hash_password(password: str, hashing: Hashing) -> str:
    return _hash_work(hashing, functools.partial(generate_password_hash, method=hashing.method),
                      password)


def _check_password(password_hash: str, password: str, hashing: Hashing) -> bool:
    return _hash_work(hashing, check_password_hash, password_hash, password)


def _decoy_check(password: str, hashing: Hashing) -> None:
    """An unknown user's sign-in: as slow as a real check, and through the same slots (so
    neither the answer's timing nor a 503 tells unknown names from known ones), but with no
    hash computed once the process has timed a real check. Guessing names that do not exist
    then costs the server neither CPU nor scrypt's 32 MiB (benchmarks/RESULTS.md, "under
    attack"); guesses at real accounts still cost a hash each, within the same bound."""
    took = _check_seconds.get(hashing.method)
    if took is None:  # nothing timed yet: check against a real hash once
        _check_password(_decoy_hash(hashing), password, hashing)
        return
    with hashing.slot():
        time.sleep(took)


_decoys: dict[str, str] = {}


def _decoy_hash(hashing: Hashing) -> str:
    """A hash to check unknown users' passwords against (made once, through the bound)."""
    if hashing.method not in _decoys:
        _decoys[hashing.method] = hash_password("decoy password", hashing)
    return _decoys[hashing.method]


# --- users ------------------------------------------------------------------------------------

def find_user(login: str) -> User | None:
    """A user by username or email, compared as :func:`login_key`s."""
    key = login_key(login)
    column = User.email_key if "@" in key else User.username_key
    user = db.session.scalars(sa.select(User).where(column == key)).first()
    if user is None and "@" in key:  # an account made before usernames lost their "@"
        user = db.session.scalars(sa.select(User).where(User.username_key == key)).first()
    return user


def get_user(username: str) -> User:
    """The user called ``username`` (any case); InvalidUsername or UserNotFound otherwise."""
    if not STORED_USERNAME_PATTERN.match(username):
        raise InvalidUsername("Invalid username supplied")
    user = db.session.scalars(
        sa.select(User).where(User.username_key == login_key(username))).first()
    if user is None:
        raise UserNotFound("User not found")
    return user


def _lock(user: User) -> None:
    """Lock the user's row for this transaction; UserNotFound when a concurrent request
    deleted it (a write racing a delete answers 404, never 500)."""
    if not lock_row(User, user.id):
        raise UserNotFound("User not found")


def _keys(user: dict) -> dict:
    """The sign-in keys a user's fields claim (only those present in ``user``)."""
    keys = {}
    if user.get("username") is not None:
        keys["username_key"] = login_key(user["username"])
    if user.get("email") is not None:
        keys["email_key"] = login_key(user["email"])
    return keys


def ensure_free(users: list[dict], *, except_id: int | None = None) -> None:
    """UsernameTaken when a username, email or id is taken (stored, or twice in the batch).

    Names and emails are compared as sign-in keys; the database's unique keys settle a race
    between two requests (IntegrityError, answered 409)."""
    claims = [_keys(u) for u in users]
    for field, column in (("username", User.username_key), ("email", User.email_key)):
        values = [c[f"{field}_key"] for c in claims if f"{field}_key" in c]
        if len(set(values)) != len(values):
            raise UsernameTaken(f"The same {field} appears twice in the request")
        if values:
            _ensure_absent(field, column, values, except_id)
    ids = [u["id"] for u in users if u.get("id") is not None and u["id"] >= 1]
    if len(set(ids)) != len(ids):
        raise UsernameTaken("The same id appears twice in the request")
    if ids:
        _ensure_absent("id", User.id, ids, except_id)


def _ensure_absent(field: str, column, values: list, except_id: int | None) -> None:
    query = sa.select(column).where(column.in_(values))
    if except_id is not None:
        query = query.where(User.id != except_id)
    taken = db.session.scalars(query.limit(1)).first()
    if taken is not None:
        raise UsernameTaken(f"{field} {taken!r} is already taken")


def _new_user(data: dict, hashing: Hashing) -> User:
    data = dict(data)
    password = data.pop("password", None)
    user_id = data.pop("id", None)
    user = User(password_hash=hash_password(password, hashing), **data, **_keys(data))
    if user_id is not None and user_id >= 1:
        user.id = user_id
    return user


def create_users(batch: list[dict], hashing: Hashing) -> list[User]:
    """All or nothing: one transaction for the whole batch (committed here). Every rule is
    checked before the first password is hashed."""
    check_batch_size(len(batch))
    for data in batch:
        check_username(data.get("username"))
        check_password(data.get("password"))
    ensure_free(batch)
    # Hash without holding a database connection (see verify_login); the unique keys
    # still settle a race with a concurrent sign-up (409).
    db.session.rollback()
    users = [_new_user(data, hashing) for data in batch]
    db.session.add_all(users)
    db.session.commit()
    return users


def update_user(user: User, data: dict, hashing: Hashing) -> tuple[User, bool]:
    """Apply ``data``; returns the user and whether the password changed (the caller then
    revokes the user's other tokens, ``tokens.revoke_others``, before this commits)."""
    data = dict(data)
    data.pop("id", None)  # ids never change
    _lock(user)
    if "username" in data:
        check_username(data["username"])
    if "password" in data:
        check_password(data["password"])
    ensure_free([data], except_id=user.id)
    password_changed = "password" in data
    if password_changed:
        user.password_hash = hash_password(data.pop("password"), hashing)
    for field, value in {**data, **_keys(data)}.items():
        setattr(user, field, value)
    if "email" in data and data["email"] is None:
        user.email_key = None
    return user, password_changed


def delete_user(user: User) -> None:
    """Their tokens and orders go with them; their pets stay without an owner."""
    _lock(user)
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

def _upsert(model, key: dict, insert: dict, update: dict):
    """INSERT ... ON CONFLICT DO UPDATE: one statement, so concurrent failures for one key
    neither collide (no 409) nor overwrite each other's counts."""
    dialect = db.session.get_bind().dialect.name
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_of(model).values(**key, **insert)
    return statement.on_conflict_do_update(index_elements=list(key), set_=update)


def _refuse_until(until: dt.datetime, now: dt.datetime, message: str):
    wait = max(1, math.ceil((until - now).total_seconds()))
    raise TooManyAttempts(message, headers={"Retry-After": str(wait)})


def _check_address(address: str | None, now: dt.datetime, config) -> None:
    if not address:
        return
    row = db.session.get(AddressThrottle, address)
    window_end = row and row.window_start + dt.timedelta(hours=1)
    if row and window_end > now and row.failures >= config["LOGIN_FAILURES_PER_ADDRESS_PER_HOUR"]:
        _refuse_until(window_end, now, "Too many failed sign-ins from this address; "
                                       "try again later")


def _count_address_failure(address: str | None, now: dt.datetime) -> None:
    if not address:
        return
    table = AddressThrottle.__table__
    window_over = table.c.window_start <= now - dt.timedelta(hours=1)
    db.session.execute(_upsert(AddressThrottle, {"address": address},
                               {"window_start": now, "failures": 1}, {
        "failures": sa.case((window_over, 1), else_=table.c.failures + 1),
        "window_start": sa.case((window_over, now), else_=table.c.window_start),
    }))


def _count_account_failure(user_id: int, now: dt.datetime, config) -> None:
    table = LoginThrottle.__table__
    failures = db.session.execute(
        _upsert(LoginThrottle, {"user_id": user_id}, {"failures": 1},
                {"failures": table.c.failures + 1}).returning(table.c.failures)).scalar_one()
    excess = failures - config["LOGIN_FAILURES_BEFORE_DELAY"]
    if failures >= config["LOGIN_FAILURES_BEFORE_LOCK"]:
        lock = dt.timedelta(seconds=config["LOGIN_LOCK_SECONDS"])
        values = {"failures": 0, "locked_until": now + lock}
    elif excess > 0:
        # Instead of sleeping in a server thread: the next attempt must wait (429).
        wait = min(excess * config["LOGIN_FAILURE_DELAY_SECONDS"], 60.0)
        values = {"locked_until": now + dt.timedelta(seconds=wait)}
    else:
        return
    db.session.execute(sa.update(table).where(table.c.user_id == user_id).values(**values))


def verify_login(login: str, password: str, config, address: str | None = None) -> User | None:
    """The user whose login and password these are, or None.

    Failed attempts are counted in the database (so every instance sees them) per account
    and per client ``address``. Past the account's delay threshold each failure makes the
    account wait a little, past its lock threshold a while, and an address past its hourly
    limit waits for the next hour: waiting is answered 429 with Retry-After, never by
    sleeping in a server thread. The checks come before any hashing, so refused attempts
    cost no CPU.
    """
    hashing = Hashing.from_config(config)
    now = clock.now()
    _check_address(address, now, config)
    user = find_user(login) if login and len(login) <= 254 else None
    user_id = password_hash = None
    had_failures = False
    if user is not None:
        throttle = db.session.get(LoginThrottle, user.id)
        if throttle and throttle.locked_until and throttle.locked_until > now:
            _refuse_until(throttle.locked_until, now,
                          "Too many failed sign-in attempts; try again later")
        user_id, password_hash = user.id, user.password_hash
        had_failures = bool(throttle and throttle.failures)
    # Give the database connection back while waiting for a hashing slot and hashing: a
    # queue of sign-ins must not hold the pool that every other request needs.
    db.session.rollback()
    if user_id is None:
        _decoy_check(password, hashing)  # as slow as a real check
    elif _check_password(password_hash, password, hashing):
        if had_failures:
            db.session.execute(sa.update(LoginThrottle).where(LoginThrottle.user_id == user_id)
                               .values(failures=0, locked_until=None))
        return user
    # The read transaction ended above, so the writes below wait for SQLite's write lock
    # (busy timeout) instead of failing on a stale snapshot.
    if user_id is not None:
        _count_account_failure(user_id, now, config)
    _count_address_failure(address, now)
    db.session.commit()  # the counts must survive the failed request
    return None
