"""Resource settings: how a pet may be booked by anyone but its owner (contract section 6).

A pet is the bookable resource. Its owner sets the timezone its availability constraints are
read in, the graphs others may book it with, the constraints themselves (section 7), minimum
notice, horizon, maximum length, a buffer around its live bookings, and how many live
bookings one booker may hold on it. A pet without stored settings has ``DEFAULTS``; the row
is written the first time its owner changes something.

The rules are checked by the booking engine (``booking/engine.py``, inside the booking's
transaction, after the pet's lock) through ``check_booking``, ``check_live_limit`` and
``check_buffer`` here, and are the same rules availability applies (``booking/free_time.py``
turns a ``ResourceView`` into the pure engine's ``Resource``): "inside allowed time" is
``availability.allowed_intervals`` in both places.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from ..database import db, utcnow
from ..database.models import Pet, ResourceSettings
from . import access
from .booking import availability
from .booking.durations import Duration, InvalidDuration, parse_duration
from .booking.graphs import GRAPHS
from .errors import BookingRuleBroken, InvalidResourceSettings, PetNotFound, SlotTaken

DURATION_SETTINGS = ("min_booking_notice", "max_booking_horizon", "max_booking_length",
                     "buffer")
DEFAULTS = {
    "timezone": "UTC",
    "graphs": ["confirm_decline"],
    "availability_constraints": [],
    "min_booking_notice": "0 minutes",
    "max_booking_horizon": "6 months",
    "max_booking_length": "1 day",
    "buffer": "0 minutes",
    "max_live_bookings_per_booker": 20,
}
SETTING_NAMES = tuple(DEFAULTS)
MAX_CONSTRAINTS = 100  # a pet's week fits in a few; this bounds the work per request
MAX_LIVE_BOOKINGS_PER_BOOKER = 10_000


@dataclasses.dataclass
class ResourceView:
    """A pet as a bookable resource: its id and name, its owner, and its settings.
    ``ResourceSchema`` dumps it (without the owner)."""

    id: int
    name: str
    owner_id: int | None
    timezone: str
    graphs: list[str]
    availability_constraints: list
    min_booking_notice: str
    max_booking_horizon: str
    max_booking_length: str
    buffer: str
    max_live_bookings_per_booker: int

    def duration(self, name: str) -> Duration:
        return parse_duration(getattr(self, name))

    def settings(self) -> dict:
        return {name: getattr(self, name) for name in SETTING_NAMES}


# --- validation: each setting's rule, once ---------------------------------------------------

def _timezone(value: object) -> str:
    try:
        ZoneInfo(value)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # "Europe" is a folder
        raise ValueError("Not a known IANA time zone (e.g. Europe/Oslo).") from None
    return value  # type: ignore[return-value]


def _graphs(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError("Must be a list of graph names.")
    unknown = [name for name in value if name not in GRAPHS]
    if unknown:
        raise ValueError(f"Unknown graph(s) {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(GRAPHS)}.")
    return list(dict.fromkeys(value))  # each once, in the order given


def _constraints(value: object) -> list:
    try:
        availability.parse_constraints(value, "availability_constraints")
    except availability.InvalidConstraint as error:
        raise ValueError(str(error)) from None
    if len(value) > MAX_CONSTRAINTS:  # type: ignore[arg-type]
        raise ValueError(f"At most {MAX_CONSTRAINTS} constraints.")
    return list(value)  # type: ignore[call-overload]


LONGEST_SETTING = Duration(months=1200)  # a century: dates stay far inside datetime's range


def _duration(value: object) -> str:
    try:
        duration = parse_duration(value)
    except InvalidDuration as error:
        raise ValueError(f"{error}.") from None
    if duration.months > LONGEST_SETTING.months or duration.fixed > dt.timedelta(days=36525):
        raise ValueError("At most 1200 months (a century).")
    return str(duration)  # normalised: "2 hour" is stored as "2 hours"


def _fixed_duration(value: object) -> str:
    text = _duration(value)
    if not parse_duration(text).is_fixed:
        raise ValueError("Must be a fixed length (minutes, hours, days or weeks), not months.")
    return text


def _live_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            1 <= value <= MAX_LIVE_BOOKINGS_PER_BOOKER):
        raise ValueError(f"Must be a whole number from 1 to {MAX_LIVE_BOOKINGS_PER_BOOKER}.")
    return value


VALIDATORS = {
    "timezone": _timezone,
    "graphs": _graphs,
    "availability_constraints": _constraints,
    "max_live_bookings_per_booker": _live_limit,
    **{name: _duration for name in DURATION_SETTINGS},
    "buffer": _fixed_duration,
}
assert set(VALIDATORS) == set(DEFAULTS)


def validate_settings(changes: Mapping) -> dict:
    """The given settings, checked and normalised; InvalidResourceSettings naming each bad
    field."""
    valid, errors = {}, {}
    for name, value in changes.items():
        if name not in VALIDATORS:
            errors[name] = ["Unknown field."]
            continue
        try:
            valid[name] = VALIDATORS[name](value)
        except ValueError as error:
            errors[name] = [str(error)]
    if errors:
        raise InvalidResourceSettings("Invalid resource settings", errors=errors)
    return valid


# --- reading and writing ----------------------------------------------------------------------

_COLUMNS = [getattr(ResourceSettings, name) for name in SETTING_NAMES]
_RESOURCES = (sa.select(Pet.id, Pet.name, Pet.owner_id, ResourceSettings.pet_id, *_COLUMNS)
              .outerjoin(ResourceSettings, ResourceSettings.pet_id == Pet.id))


def _view(row) -> ResourceView:
    pet_id, name, owner_id, stored, *values = row
    settings = dict(zip(SETTING_NAMES, values, strict=True)) if stored is not None else DEFAULTS
    return ResourceView(id=pet_id, name=name, owner_id=owner_id,
                        **{key: list(value) if isinstance(value, list) else value
                           for key, value in settings.items()})


def load_resources(pet_ids: Iterable[int]) -> dict[int, ResourceView]:
    """The listed pets as resources, by id, in one query; unknown ids are left out."""
    rows = db.session.execute(_RESOURCES.where(Pet.id.in_(list(set(pet_ids)))))
    return {row[0]: _view(row) for row in rows}


def get_resource(pet_id: int) -> ResourceView:
    """One pet's settings (defaults if none were stored); PetNotFound."""
    found = load_resources([pet_id]).get(pet_id)
    if found is None:
        raise PetNotFound("Pet not found")
    return found


def update_resource(pet_id: int, changes: Mapping, user_id: int) -> ResourceView:
    """Change some of a pet's settings (those not given keep their value); its owner only.

    PetNotFound, Forbidden, InvalidResourceSettings. Concurrent first writes of one pet's row
    race on its primary key: the loser gets the IntegrityError's 409.
    """
    try:
        resource = get_resource(pet_id)
        access.require_owner("Pet", user_id, resource.owner_id, PetNotFound)
        merged = {**resource.settings(), **validate_settings(changes)}
        row = db.session.get(ResourceSettings, pet_id)
        if row is None:
            row = ResourceSettings(pet_id=pet_id)
            db.session.add(row)
        for name, value in merged.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return get_resource(pet_id)


def open_every_graph(pet_ids: Sequence[int]) -> None:
    """Allow every graph on these pets (the demo data), inside the caller's transaction."""
    for pet_id in pet_ids:
        row = db.session.get(ResourceSettings, pet_id)
        if row is None:
            row = ResourceSettings(pet_id=pet_id, **DEFAULTS)
            db.session.add(row)
        row.graphs = list(GRAPHS)
        row.updated_at = utcnow()


# --- the rules a booking by someone other than the owner must follow ------------------------

def _broken(field: str, setting: str, reason: str) -> BookingRuleBroken:
    return BookingRuleBroken(f"The booking breaks the pet's {setting} rule",
                             errors={field: [reason]})


def _plus(duration: Duration, moment: dt.datetime) -> dt.datetime:
    """``moment + duration``, or the end of time when that leaves the calendar (a booking
    in year 9999 plus a day)."""
    try:
        return duration.add_to(moment)
    except (OverflowError, ValueError):
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def check_booking(resource: ResourceView, *, graph: str, start: dt.datetime,
                  end: dt.datetime, now: dt.datetime) -> None:
    """Graph, length, notice, horizon and allowed time; BookingRuleBroken naming the field
    and, in its message, the setting. ``start``/``end``/``now`` are aware datetimes."""
    if graph not in resource.graphs:
        raise _broken("graph", "graphs", f"This pet may be booked with: "
                                         f"{', '.join(resource.graphs)}.")
    longest = resource.duration("max_booking_length")
    if end > _plus(longest, start):
        raise _broken("end", "max_booking_length",
                      f"Longer than this pet's maximum booking length ({longest}).")
    notice = resource.duration("min_booking_notice")
    if start < _plus(notice, now):
        raise _broken("start", "min_booking_notice",
                      f"Starts too soon: this pet needs {notice} notice "
                      "(and no booking starts in the past).")
    horizon = resource.duration("max_booking_horizon")
    if end > _plus(horizon, now):
        raise _broken("end", "max_booking_horizon",
                      f"Ends too far ahead: this pet is bookable up to {horizon} from now.")
    allowed = availability.allowed_intervals(resource.availability_constraints,
                                             resource.timezone, start, end)
    if allowed != [(start, end)]:
        raise _broken("start", "availability_constraints",
                      "Outside the time this pet is available "
                      f"(its availability constraints, in {resource.timezone}).")


def check_live_limit(resource: ResourceView, held: int) -> None:
    """``held``: the booker's bookings of this pet that are live or may become live."""
    if held >= resource.max_live_bookings_per_booker:
        raise _broken("resource_id", "max_live_bookings_per_booker",
                      f"You already hold {held} bookings of this pet; its limit is "
                      f"{resource.max_live_bookings_per_booker}.")


def check_buffer(resource: ResourceView, start: dt.datetime, end: dt.datetime,
                 busy: Sequence[tuple[dt.datetime, dt.datetime]]) -> None:
    """SlotTaken (409) when a live booking lies within the pet's buffer of the window (a plain
    overlap is the engine's own 409)."""
    buffer = resource.duration("buffer")
    gap = buffer.as_timedelta()
    near = [(b_start, b_end) for b_start, b_end in busy
            if b_start < end + gap and b_end > start - gap]
    overlaps = any(b_start < end and b_end > start for b_start, b_end in near)
    if near and not overlaps:  # an overlap is the engine's own 409, with its own message
        raise SlotTaken(f"Too close to another booking of this pet (its buffer is {buffer})",
                        errors={"buffer": [f"This pet keeps {buffer} between bookings."]})


def max_buffer(resources: Iterable[ResourceView]) -> dt.timedelta:
    return max((r.duration("buffer").as_timedelta() for r in resources),
               default=dt.timedelta(0))


def engine_resource(resource: ResourceView, busy) -> availability.Resource:
    """The pure availability engine's view of a resource and its live bookings."""
    return availability.Resource(
        id=resource.id, name=resource.name, timezone=resource.timezone,
        constraints=resource.availability_constraints,
        min_booking_notice=resource.min_booking_notice,
        max_booking_horizon=resource.max_booking_horizon,
        max_booking_length=resource.max_booking_length,
        buffer=resource.buffer, busy=busy)


__all__ = ["DEFAULTS", "ResourceView", "check_booking", "check_buffer", "check_live_limit",
           "engine_resource", "get_resource", "load_resources", "max_buffer",
           "open_every_graph", "update_resource", "validate_settings"]
