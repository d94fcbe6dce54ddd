"""The service's clock: real UTC time plus an offset kept in the database.

Every time rule (token expiry, automatic booking transitions, their due times) reads
:func:`now`, never the system clock, so that the testing clock (``PUT /testing/clock``,
contract section 4) moves time for every instance on the database at once. The offset is
one row (``service_clock``), read with one primary-key query and kept for the rest of the
session (one request, or one worker round), so a request sees one consistent offset.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..database import db, utcnow
from ..database.models import ServiceClock

_clock = ServiceClock.__table__
READ_OFFSET = sa.select(_clock.c.offset_microseconds).where(_clock.c.id == 1)
_SESSION_KEY = "timekit_api.clock_offset"


def offset() -> dt.timedelta:
    """How far the service's clock is ahead of real time (cached for the session)."""
    info = db.session.info
    if _SESSION_KEY not in info:
        micros = db.session.connection().execute(READ_OFFSET).scalar()
        info[_SESSION_KEY] = dt.timedelta(microseconds=micros or 0)
    return info[_SESSION_KEY]


def remember_offset(micros: int | None) -> dt.datetime:
    """Keep an offset read along with another query (authentication reads it with the
    token) for the session; returns now()."""
    db.session.info[_SESSION_KEY] = dt.timedelta(microseconds=micros or 0)
    return now()


def now() -> dt.datetime:
    """The service's current time (aware, UTC)."""
    return utcnow() + offset()


def forget() -> None:
    """Read the offset again at the next :func:`now` (a worker does this every round)."""
    db.session.info.pop(_SESSION_KEY, None)


def _store(micros: int) -> None:
    if db.session.execute(sa.update(_clock).where(_clock.c.id == 1)
                          .values(offset_microseconds=micros)).rowcount == 0:
        db.session.execute(sa.insert(_clock).values(id=1, offset_microseconds=micros))
    db.session.commit()
    db.session.info[_SESSION_KEY] = dt.timedelta(microseconds=micros)


def set_now(moment: dt.datetime) -> dt.datetime:
    """Move the service's clock so that it reads ``moment`` now; commits. Returns now()."""
    _store((moment - utcnow()) // dt.timedelta(microseconds=1))
    return now()


def reset() -> None:
    """Back to real time; commits."""
    _store(0)

