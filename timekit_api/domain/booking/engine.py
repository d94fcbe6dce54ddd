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
import math
import uuid

import sqlalchemy as sa

from ...database import db, utcnow
from ...database import run_in_transaction as _one_transaction
from ...database.models import Booking, BookingTransition, Pet
from .. import access
from ..errors import BookingNotFound, Conflict, Invalid, SlotTaken, UnknownResource
from . import groups
from .graphs import (
    BOOKER,
    CLASS,
    CLASS_GRAPHS,
    GRAPHS,
    INITIAL_STATE,
    LIVE_STATES,
    SEAT,
    TIME_HOLDING_GRAPHS,
    IllegalTransition,
    Transition,
)

SLOT_TAKEN_MESSAGE = ("The pet is already booked (tentative or confirmed) for part of this "
                      "time")


class BookingView:
    """A booking as one user sees it: its columns plus what depends on the graph and on
    who asks (``completed``, ``available_actions``). ``BookingSchema`` dumps it."""

    def __init__(self, booking: Booking, owner_id: int | None, viewer_id: int | None,
                 current_seats: int | None = None):
        self.booking = booking
        self.owner_id = owner_id
        self.roles = access.booking_roles(viewer_id, booking.booker_id, owner_id)
        self.current_seats = current_seats  # a class's seats holding a place

    @property
    def group_booking(self) -> dict | None:
        if GRAPHS[self.booking.graph].kind != CLASS:
            return None
        return {"max_seats": self.booking.max_seats, "current_seats": self.current_seats or 0}

    @property
    def related(self) -> dict | None:
        if self.booking.owner_booking_id is None:
            return None
        return {"owner_booking_id": self.booking.owner_booking_id}

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

def _with_owner_and_seats():
    return (sa.select(Booking, Pet.owner_id, groups.seats_taken_column())
            .join(Pet, Pet.id == Booking.resource_id))


def _visible(viewer_id: int):
    return _with_owner_and_seats().where(access.booking_visible_to(viewer_id))


def get_booking(booking_id, viewer_id: int) -> BookingView:
    """The booking as ``viewer_id`` sees it; BookingNotFound when it does not exist or
    is someone else's (contract section 3: its existence must not leak)."""
    row = db.session.execute(_visible(viewer_id).where(Booking.id == str(booking_id))).first()
    if row is None:
        raise BookingNotFound("Booking not found")
    return BookingView(*row[:2], viewer_id, row[2])


SEARCH_COLUMNS = {"state": Booking.state, "graph": Booking.graph,
                  "resource_id": Booking.resource_id,
                  "owner_booking_id": Booking.owner_booking_id}


def list_bookings(viewer_id: int, search: dict[str, list], limit: int,
                  page: int) -> BookingPage:
    """The bookings ``viewer_id`` may see, by start time, one page of them."""
    where = [SEARCH_COLUMNS[key].in_(values) for key, values in search.items()]
    return _page(_visible(viewer_id).where(*where), viewer_id, limit, page)


def list_classes(viewer_id: int, search: dict[str, list], limit: int,
                 page: int) -> BookingPage:
    """The live classes (anyone signed in sees them), by start time, each with its seats
    counted in the same query."""
    where = [SEARCH_COLUMNS[key].in_(values) for key, values in search.items()]
    return _page(_with_owner_and_seats().where(Booking.graph.in_(sorted(CLASS_GRAPHS)),
                                               Booking.state.in_(sorted(LIVE_STATES)), *where),
                 viewer_id, limit, page)


def _page(query, viewer_id: int, limit: int, page: int) -> BookingPage:
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(Booking.starts_at, Booking.id)
                              .limit(limit).offset((page - 1) * limit)).all()
    first = (page - 1) * limit + 1
    return BookingPage(
        total=total, per_page=limit, current_page=page,
        last_page=max(1, math.ceil(total / limit)),
        first=first if rows else None, last=first + len(rows) - 1 if rows else None,
        views=[BookingView(booking, owner_id, viewer_id, seats)
               for booking, owner_id, seats in rows])


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
        Booking.graph.in_(sorted(TIME_HOLDING_GRAPHS)),  # seats do not block the pet
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
    if (transition.target in LIVE_STATES and booking.state not in LIVE_STATES
            and GRAPHS[booking.graph].holds_time):
        if overlapping(booking):
            raise SlotTaken(SLOT_TAKEN_MESSAGE, errors={"start": ["Overlaps another live "
                                                                  "booking."]})
    now = utcnow()
    booking.transitions.append(BookingTransition(
        from_state=booking.state, to_state=transition.target, action=transition.action,
        actor_id=actor_id, message=message, created_at=now))
    booking.state = transition.target
    booking.updated_at = now
    if transition.cascade:
        _cascade(booking, transition.cascade, actor_id, message)


def _cascade(course: Booking, action: str, actor_id: int | None, message: str | None) -> None:
    """Apply ``action`` to every seat of ``course`` holding a place, each recorded in its
    own history, under the class's lock (no seat is created meanwhile)."""
    groups.lock_class(course.id)
    for seat in groups.holding_seats(course.id):
        _apply(seat, GRAPHS[seat.graph].transition(seat.state, action), actor_id, message)


def create_booking(data: dict, booker_id: int) -> BookingView:
    """A booking from a loaded create request; with ``action`` the graph's entry action is
    applied at once, in the same transaction."""

    graph = GRAPHS[data["graph"]]
    if graph.kind == SEAT:
        return _create_seat(data, booker_id)

    def work():
        lock_resource(data["resource_id"])
        entry = graph.transition(INITIAL_STATE, graph.entry_action)
        if entry.actor != BOOKER:  # a class: only the pet's owner creates it
            owner_id = db.session.scalar(sa.select(Pet.owner_id)
                                         .where(Pet.id == data["resource_id"]))
            access.require_booking_actor(
                entry, access.booking_roles(booker_id, booker_id, owner_id))
        customer = data["customer"]
        now = utcnow()
        booking = Booking(
            id=str(uuid.uuid4()), graph=data["graph"], state=INITIAL_STATE,
            resource_id=data["resource_id"], booker_id=booker_id,
            starts_at=data["start"], ends_at=data["end"], what=data["what"],
            location=data.get("where"), description=data.get("description"),
            customer_name=customer["name"], customer_email=customer["email"],
            customer_phone=customer.get("phone"), customer_timezone=customer.get("timezone"),
            created_at=now, updated_at=now, **_class_settings(data))
        db.session.add(booking)
        # A class is entered at once: one waiting in `initialized` would hold nothing.
        if "action" in data or graph.kind == CLASS:
            _apply(booking, entry, booker_id)
        return booking.id

    booking_id = _one_transaction(work)
    return get_booking(booking_id, booker_id)


def _class_settings(data: dict) -> dict:
    settings = data.get("settings")
    if settings is None:
        return {}
    return {"max_seats": settings["max_seats"],
            "min_cancel_time": settings.get("min_cancel_time")}


def _create_seat(data: dict, booker_id: int) -> BookingView:
    """A seat in the class ``related.owner_booking_id``, entered at once (a seat waiting in
    `initialized` would hold no place): InvalidSeat, ClassClosed or ClassFull. The class's
    lock makes the count and the insert one step (``groups`` module docstring)."""
    graph = GRAPHS[data["graph"]]

    def work():
        class_id = str(data["related"]["owner_booking_id"])
        course = groups.find_class(class_id)
        groups.require_same_as_class(data, course)
        groups.take_place(class_id)
        customer = data["customer"]
        now = utcnow()
        seat = Booking(
            id=str(uuid.uuid4()), graph=graph.name, state=INITIAL_STATE,
            resource_id=course.resource_id, booker_id=booker_id, owner_booking_id=class_id,
            starts_at=course.starts_at, ends_at=course.ends_at,
            what=data.get("what", course.what), location=data.get("where", course.location),
            description=data.get("description", course.description),
            customer_name=customer["name"], customer_email=customer["email"],
            customer_phone=customer.get("phone"), customer_timezone=customer.get("timezone"),
            created_at=now, updated_at=now)
        db.session.add(seat)
        _apply(seat, graph.transition(INITIAL_STATE, graph.entry_action), booker_id)
        return seat.id

    return get_booking(_one_transaction(work), booker_id)


def apply_action(booking_id, action: str, actor_id: int,
                 message: str | None = None, payment_id: str | None = None) -> BookingView:
    """Apply ``action`` as ``actor_id``: BookingNotFound, IllegalTransition (the state does
    not allow it), Forbidden (not this actor's action), Invalid (a field the action
    requires is missing), CancelTooLate (a seat's cancel deadline) or SlotTaken."""

    def work():
        view = get_booking(booking_id, actor_id)
        booking = view.booking
        lock_resource(booking.resource_id)
        db.session.refresh(booking)  # the state may have changed before we got the lock
        transition = GRAPHS[booking.graph].transition(booking.state, action)
        access.require_booking_actor(transition, view.roles)
        if "payment_id" in transition.requires:
            if not payment_id:
                raise Invalid(f"Action '{action}' needs a payment_id",
                              errors={action: {"payment_id": ["Missing data for required "
                                                              "field."]}})
            booking.payment_id = payment_id
        if transition.before_cancel_deadline:
            groups.require_before_deadline(booking, utcnow())
        _apply(booking, transition, actor_id, message)
        if view.current_seats is not None:  # a class: its cascade may have freed places
            view.current_seats = groups.seats_taken(booking.id)
        return view

    return _one_transaction(work)


def delete_booking(booking_id, viewer_id: int) -> None:
    """Only a booking in a final state can be deleted, by its booker or the pet's owner."""

    def work():
        view = get_booking(booking_id, viewer_id)
        graph = GRAPHS[view.graph]
        if not graph.is_final(view.state):
            raise Conflict(f"Only a booking in a final state can be deleted; this one is "
                           f"'{view.state}'", errors={"state": graph.ordered_final_states})
        if graph.kind == CLASS and view.current_seats:
            raise Conflict("A class whose seats still hold places cannot be deleted",
                           errors={"current_seats": [view.current_seats]})
        db.session.delete(view.booking)

    _one_transaction(work)


__all__ = ["BookingPage", "BookingView", "IllegalTransition", "apply_action",
           "create_booking", "delete_booking", "get_booking", "list_bookings", "list_classes"]
