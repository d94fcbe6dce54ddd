"""Classes and their seats (contract section 6): the class's lock, the seat count, the
customers' cancellation deadline. The engine (``engine.py``) calls these; what a class or a
seat may do is its graph's data (``Graph.kind``, ``Transition.cascade``,
``Transition.before_cancel_deadline``).

Never more seats than ``max_seats``, even across threads and service instances, is the
database's guarantee. Every seat creation starts its transaction with

    UPDATE bookings SET seat_version = seat_version + 1 WHERE id = :class

the class's row lock (PostgreSQL) or the database's write lock (SQLite), exactly as
``engine.lock_resource`` does for a pet; only then are the seats counted (a fresh READ
COMMITTED snapshot on PostgreSQL sees every seat committed before the lock was granted) and
the new seat inserted. Creating a seat is the only way to take a place, so serialising
creations per class is enough. Seats do not take the pet's lock: they do not block its time.
Cancelling a class takes the pet's lock (as every transition does), then the class's, then
moves the seats, so a seat request waiting for the class sees it cancelled.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ...database import db
from ...database.models import Booking
from ..errors import CancelTooLate, ClassClosed, ClassFull, InvalidSeat
from .durations import Duration, parse_duration
from .graphs import CLASS_GRAPHS, LIVE_STATES, SEAT_HOLDING_STATES
from .timing import effective_state_in, state_at

CLASS_FULL_MESSAGE = "The class is full"
_bookings = Booking.__table__.c
# A seat's fields that come from its class, and the columns they are read from.
SEAT_FIELDS_FROM_CLASS = {"resource_id": "resource_id", "start": "starts_at",
                          "end": "ends_at"}


def seats_taken_column(now: dt.datetime):
    """SQL, per row of a query over ``Booking``: how many seats hold a place in it (NULL for
    anything but a class). A correlated subquery, so a list costs one query; it reads the
    index (owner_booking_id, state)."""
    seat = aliased(Booking)
    count = (sa.select(sa.func.count()).select_from(seat)
             .where(seat.owner_booking_id == Booking.id,
                    effective_state_in(SEAT_HOLDING_STATES, now, seat))
             .correlate(Booking).scalar_subquery())
    return sa.case((Booking.graph.in_(sorted(CLASS_GRAPHS)), count), else_=sa.null())


def seats_taken(class_id: str, now: dt.datetime) -> int:
    """Seats holding a place at ``now`` (a timed-out payment frees its place at once)."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Booking)
        .where(Booking.owner_booking_id == class_id,
               effective_state_in(SEAT_HOLDING_STATES, now)))


def find_class(class_id: str):
    """The class a seat request names (a row of its columns); InvalidSeat naming
    ``related.owner_booking_id`` when no booking has that id or it is not a class."""
    row = db.session.execute(
        sa.select(_bookings.graph, _bookings.resource_id, _bookings.starts_at,
                  _bookings.ends_at, _bookings.what, _bookings.location,
                  _bookings.description)
        .where(_bookings.id == class_id)).first()
    if row is None or row.graph not in CLASS_GRAPHS:
        reason = "No class has this id." if row is None else "This booking is not a class."
        raise InvalidSeat("owner_booking_id is not a class",
                          errors={"related": {"owner_booking_id": [reason]}})
    return row


def require_same_as_class(data: dict, course) -> None:
    """A seat's ``resource_id``, ``start`` and ``end`` are its class's; given, they must match."""
    errors = {name: [f"Must be the class's ({getattr(course, column)})."]
              for name, column in SEAT_FIELDS_FROM_CLASS.items()
              if name in data and data[name] != getattr(course, column)}
    if errors:
        raise InvalidSeat("A seat takes its pet and time from its class", errors=errors)


def take_place(class_id: str, now: dt.datetime) -> None:
    """Lock the class (the first write of the transaction, see the module docstring), then
    make sure it is live and has a free place: ClassClosed or ClassFull otherwise."""
    row = db.session.execute(
        sa.update(Booking.__table__).where(_bookings.id == class_id)
        .values(seat_version=_bookings.seat_version + 1)
        .returning(_bookings.state, _bookings.due_at, _bookings.due_state,
                   _bookings.max_seats)).first()
    if row is None:  # deleted since it was read
        raise InvalidSeat("owner_booking_id is not a class",
                          errors={"related": {"owner_booking_id": ["No class has this id."]}})
    state = state_at(row, now)
    if state not in LIVE_STATES:
        raise ClassClosed(f"The class is {state}: it takes no more seats",
                          errors={"related": {"owner_booking_id": [f"Class is {state}."]}})
    if seats_taken(class_id, now) >= row.max_seats:
        raise ClassFull(CLASS_FULL_MESSAGE, errors={"max_seats": [row.max_seats]})


def lock_class(class_id: str) -> None:
    """The class's lock alone: a class's transition that moves its seats takes it, so that
    no seat is created beside the cascade."""
    db.session.execute(sa.update(Booking.__table__).where(_bookings.id == class_id)
                       .values(seat_version=_bookings.seat_version + 1))


def holding_seats(class_id: str, now: dt.datetime) -> list[Booking]:
    return list(db.session.scalars(
        sa.select(Booking).where(Booking.owner_booking_id == class_id,
                                 effective_state_in(SEAT_HOLDING_STATES, now))
        .order_by(Booking.created_at, Booking.id)))


def cancel_deadline(starts_at: dt.datetime, min_cancel_time: str | None) -> dt.datetime | None:
    """The last moment a customer may cancel a seat (None: until the class ends)."""
    if not min_cancel_time:
        return None
    before = parse_duration(min_cancel_time)
    try:
        return Duration(months=-before.months, fixed=-before.fixed).add_to(starts_at)
    except (ValueError, OverflowError):  # a class in year 1: the deadline is long past
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def require_before_deadline(seat: Booking, now: dt.datetime) -> None:
    """CancelTooLate when the seat's class forbids customers' cancellations by now."""
    row = db.session.execute(
        sa.select(_bookings.starts_at, _bookings.min_cancel_time)
        .where(_bookings.id == seat.owner_booking_id)).first()
    if row is None:
        return
    deadline = cancel_deadline(row.starts_at, row.min_cancel_time)
    if deadline is not None and now >= deadline:
        raise CancelTooLate(
            f"Too late to cancel: cancelling was allowed until {deadline.isoformat()} "
            f"({row.min_cancel_time} before the start)",
            errors={"min_cancel_time": [row.min_cancel_time],
                    "allowed_until": [deadline.isoformat()]})
