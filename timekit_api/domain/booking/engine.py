"""Bookings in the database: reading them as a caller may, creating them, applying actions.

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

Then the overlap is checked with a query and the row written. Each public function here is
one request's whole transaction: it commits on success and rolls back on a domain error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid

import sqlalchemy as sa
from sqlalchemy.orm.exc import ObjectDeletedError

from ...database import db, utcnow
from ...database import run_in_transaction as _one_transaction
from ...database.models import Booking, BookingTransition, Pet
from .. import access, resources
from ..errors import BookingNotFound, Conflict, SlotTaken, UnknownResource
from ..notifications import outbox
from .graphs import GRAPHS, INITIAL_STATE, LIVE_STATES, IllegalTransition, Transition

SLOT_TAKEN_MESSAGE = ("The pet is already booked (tentative or confirmed) for part of this "
                      "time")


class BookingView:
    """A booking as one user sees it: its columns plus what depends on the graph and on
    who asks (``completed``, ``available_actions``). ``BookingSchema`` dumps it."""

    def __init__(self, booking: Booking, owner_id: int | None, viewer_id: int | None):
        self.booking = booking
        self.owner_id = owner_id
        self.roles = access.booking_roles(viewer_id, booking.booker_id, owner_id)

    def __getattr__(self, name):
        return getattr(self.booking, name)

    @property
    def completed(self) -> bool:
        return GRAPHS[self.booking.graph].is_final(self.booking.state)

    @property
    def available_actions(self) -> list[str]:
        return [t.action for t in GRAPHS[self.booking.graph].transitions
                if t.source == self.booking.state and access.may_act(t.actor, self.roles)]


@dataclasses.dataclass
class BookingPage:
    """One page of a booking list, in Timekit's list shape (``BookingPageSchema``)."""

    total: int
    per_page: int
    current_page: int
    last_page: int
    first: int | None
    last: int | None
    views: list[BookingView]
    next_page_url: str | None = None
    prev_page_url: str | None = None


# --- reading ----------------------------------------------------------------------------------

def _visible(viewer_id: int):
    return (sa.select(Booking, Pet.owner_id).join(Pet, Pet.id == Booking.resource_id)
            .where(access.booking_visible_to(viewer_id)))


def get_booking(booking_id, viewer_id: int) -> BookingView:
    """The booking as ``viewer_id`` sees it; BookingNotFound when it does not exist or
    is someone else's (contract section 3: its existence must not leak)."""
    row = db.session.execute(_visible(viewer_id).where(Booking.id == str(booking_id))).first()
    if row is None:
        raise BookingNotFound("Booking not found")
    return BookingView(row[0], row[1], viewer_id)


SEARCH_COLUMNS = {"state": Booking.state, "graph": Booking.graph,
                  "resource_id": Booking.resource_id}


def list_bookings(viewer_id: int, search: dict[str, list], limit: int,
                  page: int) -> BookingPage:
    """The bookings ``viewer_id`` may see, by start time, one page of them."""
    where = [SEARCH_COLUMNS[key].in_(values) for key, values in search.items()]
    query = _visible(viewer_id).where(*where)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(Booking.starts_at, Booking.id)
                              .limit(limit).offset((page - 1) * limit)).all()
    first = (page - 1) * limit + 1
    return BookingPage(
        total=total, per_page=limit, current_page=page,
        last_page=max(1, math.ceil(total / limit)),
        first=first if rows else None, last=first + len(rows) - 1 if rows else None,
        views=[BookingView(booking, owner_id, viewer_id) for booking, owner_id in rows])


# --- writing ----------------------------------------------------------------------------------

def lock_resource(pet_id: int) -> None:
    """Serialise booking writes for one pet until commit; UnknownResource if no such pet.

    Must be the first write of the transaction (see the module docstring).
    """
    result = db.session.execute(
        sa.update(Pet.__table__).where(Pet.__table__.c.id == pet_id)
        .values(booking_version=Pet.__table__.c.booking_version + 1))
    if result.rowcount != 1:
        raise UnknownResource("No pet has this resource_id",
                              errors={"resource_id": ["Unknown pet."]})


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


def _apply(booking: Booking, transition: Transition, actor_id: int | None,
           message: str | None = None) -> None:
    """Move ``booking`` along ``transition`` and record it; SlotTaken if it would become
    live beside another live booking. The pet must be locked (``lock_resource``)."""
    assert transition.source == booking.state
    if transition.target in LIVE_STATES and booking.state not in LIVE_STATES:
        if overlapping(booking):
            raise SlotTaken(SLOT_TAKEN_MESSAGE, errors={"start": ["Overlaps another live "
                                                                  "booking."]})
    now = utcnow()
    booking.transitions.append(BookingTransition(
        from_state=booking.state, to_state=transition.target, action=transition.action,
        actor_id=actor_id, message=message, created_at=now))
    booking.state = transition.target
    booking.updated_at = now
    # Notifications (contract section 8): the outbox rows, in this same transaction.
    outbox.record_transition(booking, transition, actor_id, view_of=(
        lambda owner_id, viewer_id: BookingView(booking, owner_id, viewer_id)))


def _get_locked(booking_id, viewer_id: int) -> BookingView:
    """The booking with its pet locked and its state re-read under the lock. A booking (or
    pet) deleted by a concurrent request is BookingNotFound (404), never a 500."""
    view = get_booking(booking_id, viewer_id)
    try:
        lock_resource(view.booking.resource_id)
        db.session.refresh(view.booking)  # the state may have changed before we got the lock
    except (UnknownResource, ObjectDeletedError):
        raise BookingNotFound("Booking not found") from None
    return view


def create_booking(data: dict, booker_id: int) -> BookingView:
    """A booking from a loaded create request; with ``action`` the graph's entry action is
    applied at once, in the same transaction."""

    def work():
        lock_resource(data["resource_id"])
        now = utcnow()
        check_resource_rules(data, booker_id, now)
        customer = data["customer"]
        booking = Booking(
            id=str(uuid.uuid4()), graph=data["graph"], state=INITIAL_STATE,
            resource_id=data["resource_id"], booker_id=booker_id,
            starts_at=data["start"], ends_at=data["end"], what=data["what"],
            location=data.get("where"), description=data.get("description"),
            customer_name=customer["name"], customer_email=customer["email"],
            customer_phone=customer.get("phone"), customer_timezone=customer.get("timezone"),
            created_at=now, updated_at=now)
        db.session.add(booking)
        if "action" in data:
            _apply(booking, GRAPHS[data["graph"]].transition(INITIAL_STATE, data["action"]),
                   booker_id)
        return booking.id

    booking_id = _one_transaction(work)
    return get_booking(booking_id, booker_id)


# --- resource settings and busy time (contract sections 6 and 7) --------------------------------
# Issue 15. Every question "which live bookings does this pet have?" asked for availability
# and for the settings' rules goes through busy_intervals / held_bookings, so that automatic
# transitions that are due (e.g. a timed-out payment) are treated as applied in one place.

def busy_intervals(resource_ids, start: dt.datetime,
                   end: dt.datetime) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """The live bookings' ``[start, end)`` of each listed pet that intersect ``[start, end)``,
    by pet id (every listed id is a key), in ONE query on ``ix_bookings_resource_state_start``.

    Callers widen the window by the buffer themselves.
    """
    ids = list(dict.fromkeys(resource_ids))
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {pet_id: [] for pet_id in ids}
    # Thousands of rows per request: read on the session's connection (no ORM row loading)
    # and convert the times here (SQLite gives ISO text, PostgreSQL naive datetimes, both
    # UTC), which costs a fifth of SQLAlchemy's generic per-value conversion.
    rows = db.session.connection().execute(
        sa.select(Booking.resource_id, sa.type_coerce(Booking.starts_at, sa.String),
                  sa.type_coerce(Booking.ends_at, sa.String)).where(
            Booking.resource_id.in_(ids),
            Booking.state.in_(sorted(LIVE_STATES)),
            Booking.starts_at < end,
            Booking.ends_at > start,
        ))
    for pet_id, starts_at, ends_at in rows:
        found[pet_id].append((_utc(starts_at), _utc(ends_at)))
    return found


def _utc(stored) -> dt.datetime:
    """A stored booking time (naive UTC, as text on SQLite) as an aware UTC datetime."""
    if isinstance(stored, str):
        return dt.datetime.fromisoformat(stored + "+00:00")  # 10x faster than .replace()
    return stored.replace(tzinfo=dt.UTC)


def held_bookings(resource_id: int, booker_id: int) -> int:
    """How many bookings of the pet the booker holds that are live or may still become live
    without another check (``initialized``: their entry action makes them live)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
        Booking.resource_id == resource_id, Booking.booker_id == booker_id,
        Booking.state.in_(sorted(LIVE_STATES | {INITIAL_STATE}))))


def check_resource_rules(data: dict, booker_id: int, now: dt.datetime) -> None:
    """A booking by anyone but the pet's owner follows the pet's settings (resources.py).

    Runs after ``lock_resource``: the counts and busy time read here cannot change before
    this transaction commits, so the per-booker limit holds under concurrency. The owner may
    book their own pet with any graph at any time (to block time).
    """
    resource = resources.get_resource(data["resource_id"])
    if resource.owner_id == booker_id:
        return
    start, end = data["start"], data["end"]
    resources.check_booking(resource, graph=data["graph"], start=start, end=end, now=now)
    resources.check_live_limit(resource, held_bookings(resource.id, booker_id))
    if "action" in data:  # goes live now: keep the pet's buffer around other live bookings
        _check_buffer(resource, start, end)


def check_buffer_on_entry(booking: Booking) -> None:
    """A booking that waited in ``initialized`` keeps the pet's buffer when it goes live
    (unless the pet's owner made it). The pet must be locked."""
    resource = resources.get_resource(booking.resource_id)
    if resource.owner_id != booking.booker_id:
        _check_buffer(resource, booking.starts_at, booking.ends_at)


def _check_buffer(resource, start: dt.datetime, end: dt.datetime) -> None:
    gap = resources.max_buffer([resource])
    if gap:
        busy = busy_intervals([resource.id], start - gap, end + gap)[resource.id]
        resources.check_buffer(resource, start, end, busy)


def apply_action(booking_id, action: str, actor_id: int,
                 message: str | None = None) -> BookingView:
    """Apply ``action`` as ``actor_id``: BookingNotFound, IllegalTransition (the state does
    not allow it), Forbidden (not this actor's action) or SlotTaken."""

    def work():
        view = _get_locked(booking_id, actor_id)
        booking = view.booking
        transition = GRAPHS[booking.graph].transition(booking.state, action)
        access.require_booking_actor(transition, view.roles)
        if transition.source == INITIAL_STATE and transition.target in LIVE_STATES:
            check_buffer_on_entry(booking)  # issue 15: the pet's buffer
        _apply(booking, transition, actor_id, message)
        return view

    return _one_transaction(work)


def delete_booking(booking_id, viewer_id: int) -> None:
    """Only a booking in a final state can be deleted, by its booker or the pet's owner."""

    def work():
        view = _get_locked(booking_id, viewer_id)
        graph = GRAPHS[view.graph]
        if not graph.is_final(view.state):
            raise Conflict(f"Only a booking in a final state can be deleted; this one is "
                           f"'{view.state}'", errors={"state": graph.ordered_final_states})
        db.session.delete(view.booking)

    _one_transaction(work)


__all__ = ["BookingPage", "BookingView", "IllegalTransition", "apply_action",
           "busy_intervals", "check_resource_rules", "create_booking", "delete_booking",
           "get_booking", "held_bookings", "list_bookings"]
