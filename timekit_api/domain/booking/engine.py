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

Time (contract section 6, "every answer is right at the moment it is given"): a booking
that enters a state with an automatic transition gets ``due_at`` (when) and ``due_state``
(where to). Every read takes a booking whose ``due_at`` has passed as being in
``due_state`` (:func:`effective_state`, :func:`effective_state_in` in SQL, :func:`state_at`
in Python: the one place this rule lives), whether or not the worker
(``automation.run_due``) has recorded the transition yet. Every write settles the booking
first (:func:`settle`, under the per-pet lock), so a human action racing the automatic one
sees the state the automatic one left.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm.exc import ObjectDeletedError

from ...database import db
from ...database import run_in_transaction as _one_transaction
from ...database.models import Booking, BookingTransition, Pet
from ...settings import SETTINGS
from .. import access, clock, resources
from ..errors import BookingNotFound, Conflict, Invalid, SlotTaken, UnknownResource
from ..notifications import outbox
from . import groups
from .graphs import (
    AFTER_END,
    AFTER_ENTERED,
    BOOKER,
    CLASS,
    CLASS_GRAPHS,
    GRAPHS,
    INITIAL_STATE,
    LIVE_STATES,
    SEAT,
    SYSTEM,
    TIME_HOLDING_GRAPHS,
    Graph,
    IllegalTransition,
    Transition,
    UnknownAction,
)
from .timing import effective_state, effective_state_in, state_at

SLOT_TAKEN_MESSAGE = ("The pet is already booked (tentative, confirmed or paid) for part of "
                      "this time")
DEFAULT_SETTINGS = {name: default for name, (default, _) in SETTINGS.items()}
RESCHEDULE = "reschedule"


# --- time: the one definition of a booking's state at a moment --------------------------------

@dataclasses.dataclass(frozen=True)
class PendingTransition:
    """A due automatic transition that the worker has not recorded yet: shown in the
    history as it will be recorded."""

    from_state: str
    to_state: str
    action: str
    message: None
    created_at: dt.datetime
    actor = None
    actor_kind = SYSTEM


class BookingView:
    """A booking as one user sees it: its columns plus what depends on the graph and on
    who asks (``completed``, ``available_actions``). ``BookingSchema`` dumps it."""

    def __init__(self, booking: Booking, owner_id: int | None, viewer_id: int | None,
                 now: dt.datetime, current_seats: int | None = None):
        self.booking = booking
        self.owner_id = owner_id
        self.roles = access.booking_roles(viewer_id, booking.booker_id, owner_id)
        self.now = now
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
    def state(self) -> str:
        return state_at(self.booking, self.now)

    @property
    def updated_at(self) -> dt.datetime:
        booking = self.booking
        if booking.due_at is not None and booking.due_at <= self.now:
            return booking.due_at  # as the worker will record it
        return booking.updated_at

    @property
    def completed(self) -> bool:
        return GRAPHS[self.booking.graph].is_final(self.state)

    @property
    def available_actions(self) -> list[str]:
        state = self.state
        return [t.action for t in GRAPHS[self.booking.graph].transitions
                if t.source == state and access.may_act(t.actor, self.roles)]

    @property
    def transitions(self) -> list:
        recorded = list(self.booking.transitions)
        booking = self.booking
        if booking.due_at is not None and booking.due_at <= self.now:
            auto = GRAPHS[booking.graph].automatic(booking.state)
            recorded.append(PendingTransition(booking.state, auto.target, auto.action, None,
                                              booking.due_at))
        return recorded


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

def _with_owner_and_seats(now: dt.datetime):
    return (sa.select(Booking, Pet.owner_id, groups.seats_taken_column(now))
            .join(Pet, Pet.id == Booking.resource_id))


def _visible(viewer_id: int, now: dt.datetime):
    return _with_owner_and_seats(now).where(access.booking_visible_to(viewer_id))


def get_booking(booking_id, viewer_id: int) -> BookingView:
    """The booking as ``viewer_id`` sees it; BookingNotFound when it does not exist or
    is someone else's (contract section 3: its existence must not leak)."""
    now = clock.now()
    row = db.session.execute(_visible(viewer_id, now)
                             .where(Booking.id == str(booking_id))).first()
    if row is None:
        raise BookingNotFound("Booking not found")
    return BookingView(row[0], row[1], viewer_id, now, row[2])


SEARCH_COLUMNS = {"state": Booking.state, "graph": Booking.graph,
                  "resource_id": Booking.resource_id,
                  "owner_booking_id": Booking.owner_booking_id}


@dataclasses.dataclass(frozen=True)
class _ListStatements:
    counts: sa.Select  # (made by the viewer, of the viewer's pets)
    both: sa.Select  # made by the viewer and of the viewer's pets
    page_ids: sa.Select
    rows: sa.Select


@functools.lru_cache(maxsize=32)
def _list_statements(search_keys: tuple[str, ...]) -> _ListStatements:
    """The bookings list's statements for one set of search keys, built once per process
    with bound parameters (``viewer``, ``now``, ``end``, ``limit``, ``offset``, ``ids`` and
    ``search_<key>``): building SQLAlchemy expressions per request cost more than running
    them (benchmarks/PROFILE.md, "bookings list")."""
    now = sa.bindparam("now", type_=Booking.due_at.type)
    where = [effective_state_in(sa.bindparam("search_state", expanding=True), now)
             if key == "state"
             else SEARCH_COLUMNS[key].in_(sa.bindparam(f"search_{key}", expanding=True))
             for key in search_keys]
    by_booker, by_owner = access.booking_visibility(sa.bindparam("viewer"))
    # Each visibility rule read through its own index (ix_bookings_booker_start,
    # ix_bookings_owner_start) in start order; the counts are index-only.
    mine = sa.select(sa.func.count()).select_from(Booking).where(by_booker, *where)
    theirs = sa.select(sa.func.count()).select_from(Booking).where(by_owner, *where)
    branches = (sa.select(Booking.id, Booking.starts_at).where(by_booker, *where),
                sa.select(Booking.id, Booking.starts_at).where(by_owner, *where))
    ends = [branch.order_by(Booking.starts_at, Booking.id).limit(sa.bindparam("end"))
            .subquery() for branch in branches]
    merged = sa.union(*(sa.select(end.c.id, end.c.starts_at) for end in ends)).subquery()
    return _ListStatements(
        counts=sa.select(mine.scalar_subquery(), theirs.scalar_subquery()),
        both=theirs.where(by_booker),
        page_ids=(sa.select(merged.c.id).order_by(merged.c.starts_at, merged.c.id)
                  .limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))),
        rows=_with_owner_and_seats(now).where(
            Booking.id.in_(sa.bindparam("ids", expanding=True))))


def list_bookings(viewer_id: int, search: dict[str, list], limit: int,
                  page: int, now: dt.datetime | None = None) -> BookingPage:
    """The bookings ``viewer_id`` may see, by start time, one page of them.

    A constant number of queries whatever the page holds: the counts, the page's ids, the
    page's bookings, their histories (one ``selectin`` query). Visibility is an OR of two
    rules (the booker, the pet's owner), which no single index serves, so each rule is its
    own branch of a UNION, read in start order through its own index
    (``ix_bookings_booker_start``, ``ix_bookings_owner_start``) and cut at the page's
    end before the branches are merged; the total is booker's + owner's - both, where a
    UNION would sort every visible row to drop duplicates (benchmarks/PROFILE.md).
    ``now``: the service time to read the bookings at (default: now).
    """
    now = now or clock.now()
    statements = _list_statements(tuple(sorted(search)))
    offset = (page - 1) * limit
    params = {"viewer": viewer_id, "now": now, "end": offset + limit, "limit": limit,
              "offset": offset,
              **{f"search_{key}": sorted(values) for key, values in search.items()}}
    mine, theirs = db.session.execute(statements.counts, params).one()
    both = db.session.scalar(statements.both, params) if mine and theirs else 0
    total = mine + theirs - both
    ids = db.session.scalars(statements.page_ids, params).all()
    found = {row[0].id: row for row in db.session.execute(
        statements.rows, {**params, "ids": ids}).all()} if ids else {}
    rows = [found[booking_id] for booking_id in ids if booking_id in found]
    first = offset + 1
    return BookingPage(
        total=total, per_page=limit, current_page=page,
        last_page=max(1, math.ceil(total / limit)),
        first=first if rows else None, last=first + len(rows) - 1 if rows else None,
        views=[BookingView(booking, owner_id, viewer_id, now, seats)
               for booking, owner_id, seats in rows])


def list_classes(viewer_id: int, search: dict[str, list], limit: int,
                 page: int) -> BookingPage:
    """The live classes (anyone signed in sees them), by start time, each with its seats
    counted in the same query."""
    now = clock.now()
    where = [SEARCH_COLUMNS[key].in_(values) for key, values in search.items()]
    query = _with_owner_and_seats(now).where(Booking.graph.in_(sorted(CLASS_GRAPHS)),
                                             effective_state_in(LIVE_STATES, now), *where)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(Booking.starts_at, Booking.id)
                              .limit(limit).offset((page - 1) * limit)).all()
    first = (page - 1) * limit + 1
    return BookingPage(
        total=total, per_page=limit, current_page=page,
        last_page=max(1, math.ceil(total / limit)),
        first=first if rows else None, last=first + len(rows) - 1 if rows else None,
        views=[BookingView(booking, owner_id, viewer_id, now, seats)
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


def overlapping(booking: Booking, now: dt.datetime) -> bool:
    """Whether another booking of the pet, live at ``now``, intersects
    ``[starts_at, ends_at)``. Touching windows (one ends when the other starts) do not
    overlap; a due automatic transition counts as done (a timed-out payment frees its slot).
    """
    query = sa.select(Booking.id).where(
        Booking.resource_id == booking.resource_id,
        effective_state_in(LIVE_STATES, now),
        Booking.graph.in_(sorted(TIME_HOLDING_GRAPHS)),  # seats do not block the pet
        Booking.starts_at < booking.ends_at,
        Booking.ends_at > booking.starts_at,
        Booking.id != booking.id,
    ).limit(1)
    return db.session.scalar(query) is not None


def _refuse_overlap(booking: Booking, now: dt.datetime) -> None:
    if overlapping(booking, now):
        raise SlotTaken(SLOT_TAKEN_MESSAGE, errors={"start": ["Overlaps another live booking."]})


def schedule(booking: Booking, entered_at: dt.datetime, settings: Mapping) -> None:
    """Set ``due_at``/``due_state`` for the automatic transition pending in the booking's
    (new) state, if any."""
    auto = GRAPHS[booking.graph].automatic(booking.state)
    if auto is None:
        booking.due_at = booking.due_state = None
        return
    start = entered_at if auto.auto.after == AFTER_ENTERED else booking.ends_at
    try:
        booking.due_at = auto.auto.duration(settings).add_to(start)
    except (OverflowError, ValueError):  # past year 9999: never due
        booking.due_at = booking.due_state = None
        return
    booking.due_state = auto.target


def _record(booking: Booking, source: str, target: str, action: str, at: dt.datetime,
            actor_id: int | None, message: str | None, settings: Mapping,
            actor_kind: str | None = None, cascaded: bool = False) -> None:
    """Move ``booking`` to ``target`` and write the history row (added directly, so the
    booking's history need not be loaded)."""
    db.session.add(BookingTransition(
        booking_id=booking.id, from_state=source, to_state=target, action=action,
        actor_id=actor_id, actor_kind=actor_kind, message=message, created_at=at))
    entered = booking.state != target
    booking.state = target
    booking.updated_at = at
    if entered:
        schedule(booking, at, settings)
        # Notifications (contract section 8): the outbox rows, in this same transaction.
        outbox.record_transition(booking, target, actor_id, view_of=(
            lambda owner_id, viewer_id: _fresh_view(booking, owner_id, viewer_id, at)),
            cascaded=cascaded)


def _fresh_view(booking: Booking, owner_id, viewer_id, at: dt.datetime) -> BookingView:
    """The booking as a notification shows it: its history read again, since the row just
    recorded was added beside the (possibly loaded) collection."""
    db.session.flush()
    db.session.expire(booking, ["transitions"])
    return BookingView(booking, owner_id, viewer_id, at)


def settle(booking: Booking, now: dt.datetime, settings: Mapping) -> bool:
    """Record the booking's automatic transition if it is due at ``now``: once, by the
    system, at the time it was due. The pet must be locked. Returns whether it did."""
    if booking.due_at is None or booking.due_at > now:
        return False
    auto = GRAPHS[booking.graph].automatic(booking.state)
    due_at = booking.due_at
    if auto is None or auto.target != booking.due_state:  # stale: the graph changed
        booking.due_at = booking.due_state = None
        return False
    _record(booking, booking.state, auto.target, auto.action, due_at, None, None, settings,
            actor_kind=SYSTEM)
    return True


def _apply(booking: Booking, transition: Transition, actor_id: int | None, now: dt.datetime,
           settings: Mapping, message: str | None = None, cascaded: bool = False) -> None:
    """Move ``booking`` along ``transition`` and record it; SlotTaken if it would become
    live beside another live booking. The pet must be locked (``lock_resource``).
    ``cascaded``: applied to a seat by its class's transition."""
    assert transition.source == booking.state
    if (transition.target in LIVE_STATES and booking.state not in LIVE_STATES
            and GRAPHS[booking.graph].holds_time):
        _refuse_overlap(booking, now)
    _record(booking, booking.state, transition.target, transition.action, now, actor_id,
            message, settings, cascaded=cascaded)
    if transition.cascade:
        _cascade(booking, transition.cascade, actor_id, now, settings, message)


def _cascade(course: Booking, action: str, actor_id: int | None, now: dt.datetime,
             settings: Mapping, message: str | None) -> None:
    """Apply ``action`` to every seat of ``course`` holding a place, each recorded in its
    own history, under the class's lock (no seat is created meanwhile)."""
    groups.lock_class(course.id)
    for seat in groups.holding_seats(course.id, now):
        settle(seat, now, settings)
        if seat.state in groups.SEAT_HOLDING_STATES:
            _apply(seat, GRAPHS[seat.graph].transition(seat.state, action), actor_id, now,
                   settings, message, cascaded=True)


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


def create_booking(data: dict, booker_id: int,
                   settings: Mapping = DEFAULT_SETTINGS) -> BookingView:
    """A booking from a loaded create request; with ``action`` the graph's entry action is
    applied at once, in the same transaction."""

    graph = GRAPHS[data["graph"]]
    if graph.kind == SEAT:
        return _create_seat(data, booker_id, settings)

    def work():
        lock_resource(data["resource_id"])
        entry = graph.transition(INITIAL_STATE, graph.entry_action)
        if entry.actor != BOOKER:  # a class: only the pet's owner creates it
            owner_id = db.session.scalar(sa.select(Pet.owner_id)
                                         .where(Pet.id == data["resource_id"]))
            access.require_booking_actor(
                entry, access.booking_roles(booker_id, booker_id, owner_id))
        customer = data["customer"]
        now = clock.now()
        check_resource_rules(data, booker_id, now)
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
            _apply(booking, entry, booker_id, now, settings)
        return booking.id

    booking_id = _one_transaction(work)
    return get_booking(booking_id, booker_id)


# --- resource settings and busy time (contract sections 6 and 7) --------------------------------
# Issue 15. Every question "which live bookings does this pet have?" asked for availability
# and for the settings' rules goes through busy_intervals / held_bookings, so that automatic
# transitions that are due (e.g. a timed-out payment) are treated as applied in one place.

@functools.cache
def _busy_statement() -> sa.Select:
    """``busy_intervals``' statement, built once with bound parameters (building it per
    request cost a third of the query's time)."""
    return sa.select(
        Booking.resource_id, sa.type_coerce(Booking.starts_at, sa.String),
        sa.type_coerce(Booking.ends_at, sa.String),
    ).where(
        Booking.resource_id.in_(sa.bindparam("ids", expanding=True)),
        # due transitions count at once
        effective_state_in(LIVE_STATES, sa.bindparam("now", type_=Booking.due_at.type)),
        Booking.starts_at < sa.bindparam("end", type_=Booking.starts_at.type),
        Booking.ends_at > sa.bindparam("start", type_=Booking.ends_at.type),
    )


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
        _busy_statement(), {"ids": ids, "now": clock.now(), "start": start, "end": end}).all()
    if rows and isinstance(rows[0][1], str):  # SQLite: one conversion inlined per value
        parse = dt.datetime.fromisoformat
        for pet_id, starts_at, ends_at in rows:
            found[pet_id].append((parse(starts_at + "+00:00"), parse(ends_at + "+00:00")))
    else:
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
        effective_state_in(LIVE_STATES | {INITIAL_STATE}, clock.now())))


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


def _require_details(transition: Transition, details: Mapping) -> None:
    missing = [name for name in transition.requires if not details.get(name)]
    if missing:
        raise Invalid(f"Action '{transition.action}' requires {', '.join(missing)}",
                      errors={transition.action: {name: ["Missing data for required field."]
                                                  for name in missing}})


def apply_action(booking_id, action: str, actor_id: int, message: str | None = None, *,
                 details: Mapping | None = None,
                 settings: Mapping = DEFAULT_SETTINGS) -> BookingView:
    """Apply ``action`` as ``actor_id``: BookingNotFound, UnknownAction (the graph has no
    such action), IllegalTransition (the state does not allow it), Forbidden (not this
    actor's action), Invalid (a required detail such as ``payment_id`` is missing) or
    SlotTaken. ``details`` are the body's (``payment_id``)."""
    details = details or {}

    def work():
        view = _get_locked(booking_id, actor_id)
        booking = view.booking
        graph = GRAPHS[booking.graph]
        if action not in graph.actions:
            raise UnknownAction(graph, action)
        view.now = now = clock.now()
        settle(booking, now, settings)
        transition = graph.transition(booking.state, action)
        access.require_booking_actor(transition, view.roles)
        _require_details(transition, details)
        if transition.before_cancel_deadline:
            groups.require_before_deadline(booking, now)
        if transition.source == INITIAL_STATE and transition.target in LIVE_STATES:
            check_buffer_on_entry(booking)  # issue 15: the pet's buffer
        if "payment_id" in transition.requires:
            booking.payment_id = details["payment_id"]
        _apply(booking, transition, actor_id, now, settings, message)
        if view.current_seats is not None:  # a class: its cascade may have freed places
            view.current_seats = groups.seats_taken(booking.id, now)
        return view

    return _one_transaction(work)


def _class_settings(data: dict) -> dict:
    settings = data.get("settings")
    if settings is None:
        return {}
    return {"max_seats": settings["max_seats"],
            "min_cancel_time": settings.get("min_cancel_time")}


def _create_seat(data: dict, booker_id: int, settings: Mapping) -> BookingView:
    """A seat in the class ``related.owner_booking_id``, entered at once (a seat waiting in
    `initialized` would hold no place): InvalidSeat, ClassClosed or ClassFull. The class's
    lock makes the count and the insert one step (``groups`` module docstring)."""
    graph = GRAPHS[data["graph"]]

    def work():
        class_id = str(data["related"]["owner_booking_id"])
        course = groups.find_class(class_id)
        groups.require_same_as_class(data, course)
        now = clock.now()
        groups.take_place(class_id, now)
        customer = data["customer"]
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
        _apply(seat, graph.transition(INITIAL_STATE, graph.entry_action), booker_id, now,
               settings)
        return seat.id

    return get_booking(_one_transaction(work), booker_id)


def _window(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start.isoformat()}/{end.isoformat()}"


def reschedule_booking(booking_id, data: Mapping, actor_id: int,
                       settings: Mapping = DEFAULT_SETTINGS) -> BookingView:
    """Move a live booking to ``data``'s window (and pet, of the same owner), keeping its id
    and state, under the overlap rule, in one transaction (contract section 6). Moved by its
    booker alone, a booking may go back to an earlier state (confirmed -> tentative in
    ``confirm_decline``: the owner confirms the new time)."""

    def work():
        view = get_booking(booking_id, actor_id)
        booking = view.booking
        graph: Graph = GRAPHS[booking.graph]
        new_pet = data.get("resource_id", booking.resource_id)
        for pet_id in sorted({booking.resource_id, new_pet}):  # one order: no deadlock
            lock_resource(pet_id)
        db.session.refresh(booking)
        view.now = now = clock.now()
        settle(booking, now, settings)
        if not graph.reschedulable:
            raise Conflict(f"Bookings of graph '{graph.name}' cannot be rescheduled")
        if booking.state not in LIVE_STATES:
            raise Conflict(f"Only a live booking ({', '.join(sorted(LIVE_STATES))}) can be "
                           f"rescheduled; this one is '{booking.state}'",
                           errors={"state": [booking.state]})
        if new_pet != booking.resource_id:
            owners = dict(db.session.execute(sa.select(Pet.id, Pet.owner_id).where(
                Pet.id.in_([new_pet, booking.resource_id]))).all())
            if owners[new_pet] != owners[booking.resource_id]:
                raise Invalid("A booking can only move to another pet of the same owner",
                              errors={"resource_id": ["Belongs to another owner."]})
        old = _window(booking.starts_at, booking.ends_at)
        old_pet = booking.resource_id
        booking.starts_at, booking.ends_at = data["start"], data["end"]
        booking.resource_id = new_pet
        _refuse_overlap(booking, now)
        source = booking.state
        target = (graph.rescheduled_by_booker.get(source, source) if view.roles == {BOOKER}
                  else source)
        text = f"rescheduled from {old} to {_window(booking.starts_at, booking.ends_at)}"
        if new_pet != old_pet:
            text += f" (pet {old_pet} -> {new_pet})"
        if data.get("message"):
            text += f": {data['message']}"
        _record(booking, source, target, RESCHEDULE, now, actor_id, text[:1000], settings)
        auto = graph.automatic(booking.state)
        if source == target and auto is not None and auto.auto.after == AFTER_END:
            schedule(booking, now, settings)  # the end moved, and the delay with it
        view.owner_id = owners[new_pet] if new_pet != old_pet else view.owner_id
        return view

    return _one_transaction(work)


def delete_booking(booking_id, viewer_id: int) -> None:
    """Only a booking in a final state can be deleted, by its booker or the pet's owner."""

    def work():
        view = _get_locked(booking_id, viewer_id)
        graph = GRAPHS[view.booking.graph]
        if not graph.is_final(view.state):
            raise Conflict(f"Only a booking in a final state can be deleted; this one is "
                           f"'{view.state}'", errors={"state": graph.ordered_final_states})
        if graph.kind == CLASS and view.current_seats:
            raise Conflict("A class whose seats still hold places cannot be deleted",
                           errors={"current_seats": [view.current_seats]})
        db.session.delete(view.booking)

    _one_transaction(work)


__all__ = ["BookingPage", "BookingView", "IllegalTransition", "UnknownAction", "apply_action",
           "busy_intervals", "check_resource_rules", "create_booking", "delete_booking",
           "effective_state", "effective_state_in", "get_booking", "held_bookings",
           "list_bookings", "list_classes", "reschedule_booking", "settle", "state_at"]
