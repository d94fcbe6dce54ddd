"""Bookings in the database: the per-pet lock, the overlap rule and applying transitions.

No overlap, even across threads and service instances, is the database's guarantee, not a
Python check-then-insert. Every booking write starts its transaction with

    UPDATE pets SET booking_version = booking_version + 1 WHERE id = :pet

- PostgreSQL: a row lock on the pet, held until commit; a second writer for the same pet
  waits, and its overlap query (a fresh READ COMMITTED snapshot) then sees the first
  writer's booking.
- SQLite: the statement takes the database's write lock. pysqlite issues ``BEGIN`` only
  before the first INSERT/UPDATE/DELETE, so the reads before it (authentication, loading
  the booking) ran outside any transaction, and this UPDATE opens a write transaction
  that read nothing before: it waits for the lock (busy timeout) instead of failing with
  SQLITE_BUSY_SNAPSHOT, and then reads the newest data.

Then the overlap is checked with a query, the row written, and the transaction committed
by the caller.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from ..extensions import db
from ..models import Booking, BookingTransition, Pet, utcnow
from .graphs import INITIAL_STATE, LIVE_STATES, Transition


class UnknownResource(LookupError):
    """No pet has the booking's resource_id."""


class Overlap(Exception):
    """Another live booking of the same pet intersects the window."""


def lock_resource(pet_id: int) -> None:
    """Serialise booking writes for one pet until commit; UnknownResource if no such pet.

    Must be the first write of the transaction (see the module docstring).
    """
    result = db.session.execute(
        sa.update(Pet.__table__).where(Pet.__table__.c.id == pet_id)
        .values(booking_version=Pet.__table__.c.booking_version + 1))
    if result.rowcount != 1:
        raise UnknownResource(pet_id)


def overlapping(booking: Booking) -> bool:
    """Whether another live booking of the pet intersects ``[starts_at, ends_at)``.

    Touching windows (one ends when the other starts) do not overlap.
    """
    query = sa.select(Booking.id).where(
        Booking.resource_id == booking.resource_id,
        Booking.state.in_(sorted(LIVE_STATES)),
        Booking.starts_at < booking.ends_at,
        Booking.ends_at > booking.starts_at,
        Booking.id != booking.id,
    ).limit(1)
    return db.session.scalar(query) is not None


def new_booking(data: dict, booker_id: int) -> Booking:
    """A booking in the initial state from a loaded create request; the pet is locked."""
    lock_resource(data["resource_id"])
    customer = data["customer"]
    now = utcnow()
    booking = Booking(
        id=str(uuid.uuid4()), graph=data["graph"], state=INITIAL_STATE,
        resource_id=data["resource_id"], booker_id=booker_id,
        starts_at=data["start"], ends_at=data["end"], what=data["what"],
        location=data.get("where"), description=data.get("description"),
        customer_name=customer["name"], customer_email=customer["email"],
        customer_phone=customer.get("phone"), customer_timezone=customer.get("timezone"),
        created_at=now, updated_at=now)
    db.session.add(booking)
    return booking


def apply(booking: Booking, transition: Transition, actor_id: int,
          message: str | None = None) -> None:
    """Move ``booking`` along ``transition`` and record it; Overlap if it would become
    live beside another live booking. The pet must be locked (``lock_resource``)."""
    assert transition.source == booking.state
    if transition.target in LIVE_STATES and booking.state not in LIVE_STATES:
        if overlapping(booking):
            raise Overlap()
    now = utcnow()
    booking.transitions.append(BookingTransition(
        from_state=booking.state, to_state=transition.target, action=transition.action,
        actor_id=actor_id, message=message, created_at=now))
    booking.state = transition.target
    booking.updated_at = now
