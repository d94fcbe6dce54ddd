"""``Idempotency-Key``: one answer per caller and key, kept in the database for every instance.

How a request with a key runs (the HTTP side is ``http/idempotency.py``):

1. **Claim**: INSERT a record ``(caller, key, request, body digest, claim)`` in its own short
   transaction. The unique constraint on ``(caller, key)`` lets exactly one of any number of
   racing requests (on any instance) win; the others read the winner's record.
2. The winner runs the operation (its own transaction, as always), then stores the answer
   (status, body, selected headers) on the record, guarded by its ``claim`` token.
3. Anyone else with the same caller and key gets, by the record's state: a different request
   (method, path or body) -> :class:`IdempotencyKeyReused` (422); still running ->
   :class:`IdempotencyInFlight` (409); done -> the stored :class:`Answer`, replayed.

Failures are not stored: an operation that raised wrote nothing, so its claim is released
(the record deleted) and a retry runs it afresh. A process that dies mid-request leaves an
incomplete record; once it is older than ``in_flight_seconds`` the next request with that key
takes it over (a conditional UPDATE on the old claim token, so only one does). Records older
than ``ttl_seconds`` are treated as absent and purged by :func:`purge_expired` (called now
and then by claims, and callable by a worker or cron).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..database import db
from ..database.models import IdempotencyRecord
from .errors import IdempotencyInFlight, IdempotencyKeyReused, InvalidIdempotencyKey

MAX_KEY_LENGTH = 255
MAX_REQUEST_LENGTH = 2100
PURGE_EVERY = 1000  # new claims per lazy purge (record ids are a cheap counter)


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Claim:
    record_id: int
    token: str


def validate_key(key: str) -> str:
    """1..255 printable ASCII characters; inner spaces are fine, but not leading or trailing
    ones (HTTP servers strip those, so the key would not arrive as sent)."""
    if (not 1 <= len(key) <= MAX_KEY_LENGTH or key != key.strip(" ")
            or not all(" " <= c <= "~" for c in key)):
        raise InvalidIdempotencyKey(
            "Invalid Idempotency-Key", {"Idempotency-Key": [
                f"Expected 1 to {MAX_KEY_LENGTH} printable ASCII characters, "
                "without leading or trailing spaces"]})
    return key


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


_records = IdempotencyRecord.__table__
_c = _records.c
# Prebuilt statements, run on the session's connection: the two writes every keyed request
# adds cost no statement building (benchmarks/PROFILE.md, "idempotency").
CLAIM = sa.insert(_records).values(
    caller=sa.bindparam("caller"), key=sa.bindparam("key"), request=sa.bindparam("request"),
    body_digest=sa.bindparam("body_digest"), claim=sa.bindparam("claim"), completed=False,
    created_at=sa.bindparam("now", type_=_c.created_at.type))
COMPLETE = sa.update(_records).where(
    _c.id == sa.bindparam("record_id"), _c.claim == sa.bindparam("token")).values(
    completed=True, status=sa.bindparam("status"), body=sa.bindparam("body", type_=sa.LargeBinary),
    headers=sa.bindparam("headers"))


def claim_or_replay(caller: str, key: str, request: str, digest: str, now: dt.datetime, *,
                    ttl_seconds: int, in_flight_seconds: int) -> Claim | Answer:
    """Claim ``key`` for this request, or return the answer stored for it; raises
    :class:`IdempotencyKeyReused` or :class:`IdempotencyInFlight`."""
    request = request[:MAX_REQUEST_LENGTH]
    expired_before = now - dt.timedelta(seconds=ttl_seconds)
    for _ in range(5):  # each pass either decides or saw the record change under it
        token = secrets.token_hex(16)
        try:
            inserted = db.session.connection().execute(CLAIM, {
                "caller": caller, "key": key, "request": request, "body_digest": digest,
                "claim": token, "now": now})
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        else:
            record_id = inserted.inserted_primary_key[0]
            if record_id % PURGE_EVERY == 0:
                purge_expired(now, ttl_seconds)
            return Claim(record_id, token)

        row = db.session.execute(sa.select(_records).where(
            _c.caller == caller, _c.key == key)).first()
        db.session.commit()  # end the read: the operation starts its own transaction
        if row is None:
            continue  # purged or released meanwhile: claim again
        if row.created_at > expired_before:
            if (row.request, row.body_digest) != (request, digest):
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different request")
            if row.completed:
                return Answer(row.status, row.body, json.loads(row.headers or "{}"))
            if row.created_at > now - dt.timedelta(seconds=in_flight_seconds):
                raise IdempotencyInFlight(
                    "A request with this Idempotency-Key is still in progress",
                    headers={"Retry-After": "1"})
        # Expired, or abandoned in flight: take it over, if nobody else just did.
        taken = db.session.execute(
            sa.update(_records).where(_c.id == row.id, _c.claim == row.claim).values(
                request=request, body_digest=digest, claim=token, completed=False,
                status=None, body=None, headers=None, created_at=now))
        db.session.commit()
        if taken.rowcount == 1:
            return Claim(row.id, token)
    raise IdempotencyInFlight("A request with this Idempotency-Key is still in progress",
                              headers={"Retry-After": "1"})


def complete(claim: Claim, answer: Answer) -> None:
    """Store the answer of the claimed request (in its own transaction)."""
    db.session.connection().execute(COMPLETE, {
        "record_id": claim.record_id, "token": claim.token, "status": answer.status,
        "body": answer.body, "headers": json.dumps(answer.headers)})
    db.session.commit()


def release(claim: Claim) -> None:
    """Forget the claim of a request that failed (it wrote nothing): a retry runs again."""
    db.session.execute(
        sa.delete(_records).where(_c.id == claim.record_id, _c.claim == claim.token))
    db.session.commit()


def purge_expired(now: dt.datetime, ttl_seconds: int) -> int:
    """Delete the records older than ``ttl_seconds``; returns how many. For a worker or cron."""
    deleted = db.session.execute(sa.delete(_records).where(
        _c.created_at < now - dt.timedelta(seconds=ttl_seconds)))
    db.session.commit()
    return deleted.rowcount
