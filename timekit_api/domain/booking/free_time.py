"""What is free: ``POST /availability`` and ``POST /findtime`` (contract section 7).

Loads the listed pets' settings (one query, ``resources.load_resources``) and their live
bookings in the window widened by the largest buffer (one query, ``engine.busy_intervals``),
and asks the pure engine (``availability.py``) for the slots. Every malformed value is an
``InvalidAvailabilityRequest`` whose ``errors`` name the request's field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from .. import resources
from ..errors import InvalidAvailabilityRequest
from . import availability, engine
from .durations import InvalidDuration, InvalidTime, parse_duration, parse_relative_or_absolute

DEFAULTS = {"mode": "roundrobin_random", "from": "now", "to": "4 weeks", "length": "1 hour",
            "buffer": "0 minutes", "constraints": [], "output_timezone": "UTC"}
FINDTIME_DEFAULTS = {"future": "4 weeks", "length": "1 hour", "buffer": "0 minutes",
                     "all_solutions": False, "constraints": [], "output_timezone": "UTC"}
_FIELD = re.compile(r"([a-z_]+)(\[\d+\])?")


@dataclasses.dataclass
class ResourceRef:
    id: int
    name: str


@dataclasses.dataclass
class OfferedSlot:
    """One answer: ``[start, end)`` in the output timezone and the pets offered for it."""

    start: dt.datetime
    end: dt.datetime
    resources: list[ResourceRef]


def _invalid(field: str, problem: str) -> InvalidAvailabilityRequest:
    return InvalidAvailabilityRequest(f"Invalid {field}", errors={field: [problem]})


def _engine_error(error: availability.AvailabilityError,
                  renamed: dict[str, str]) -> InvalidAvailabilityRequest:
    """The engine names the field before a colon ("to: must be ..."); keep the top name."""
    path = getattr(error, "path", None) or str(error).partition(":")[0]
    match = _FIELD.match(path)
    field = match.group(1) if match else "_schema"
    field = renamed.get(field, field)
    problem = getattr(error, "problem", None) or str(error).partition(": ")[2] or str(error)
    if field == "constraints" and path != "constraints":
        problem = f"{path}: {problem}"
    return _invalid(field, problem)


# Times and lengths far enough from the calendar's ends that the engine's arithmetic (a
# window of 6 months, buffers, notice) never leaves the range of ``datetime``.
EARLIEST, LATEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
LONGEST = dt.timedelta(days=366)


def _time(request: dict, field: str, now: dt.datetime) -> dt.datetime:
    try:
        moment = parse_relative_or_absolute(request[field], now)
    except (InvalidTime, InvalidDuration) as error:
        raise _invalid(field, str(error)) from None
    except (OverflowError, ValueError):  # e.g. "9999999 months" from now
        raise _invalid(field, "Out of range.") from None
    if not EARLIEST <= moment <= LATEST:
        raise _invalid(field, "Out of range (years 1970 to 9000).")
    return moment


def _duration_text(request: dict, field: str) -> str:
    try:
        duration = parse_duration(request[field])
    except InvalidDuration as error:
        raise _invalid(field, str(error)) from None
    if duration.months > 12 or duration.fixed > LONGEST:
        raise _invalid(field, "At most a year.")
    return str(duration)


# An answer lists at most this many (slot, pet) pairs before the engine runs: 6 months at
# 15-minute increments for one pet (17,520 slots), or a week at 5 minutes for 50 pets in
# `mutual` (100,800). Larger requests are 400s naming the field to change, so that one public
# request can neither take seconds of CPU nor build a response of tens of megabytes.
MAX_ANSWER = 101_000


def _bound_answer(start, end, step_text: str, listed: int, field: str) -> None:
    try:
        step = parse_duration(step_text).as_timedelta()
    except InvalidDuration:
        return  # months: the engine refuses them with its own message
    if step and (end - start) // step * listed > MAX_ANSWER:
        raise _invalid(field, "Too many slots for one answer: choose a longer increment, a "
                              "shorter window or fewer resources.")


def _resources(pet_ids: list[int]) -> list[resources.ResourceView]:
    if not 1 <= len(pet_ids) <= availability.MAX_RESOURCES:
        raise _invalid("resources", f"Give 1 to {availability.MAX_RESOURCES} pet ids.")
    if len(set(pet_ids)) != len(pet_ids):
        raise _invalid("resources", "Each pet may be listed once.")
    found = resources.load_resources(pet_ids)
    unknown = [pet_id for pet_id in pet_ids if pet_id not in found]
    if unknown:
        raise _invalid("resources", f"Unknown pet(s): {', '.join(map(str, unknown))}.")
    return [found[pet_id] for pet_id in pet_ids]


def _answer(views: list[resources.ResourceView], slots) -> list[OfferedSlot]:
    refs = {view.id: ResourceRef(view.id, view.name) for view in views}
    return [OfferedSlot(slot.start, slot.end, [refs[i] for i in slot.resource_ids])
            for slot in slots]


def _busy(views, start: dt.datetime, end: dt.datetime, buffer: dt.timedelta):
    gap = max(buffer, resources.max_buffer(views))
    busy = engine.busy_intervals([view.id for view in views], start - gap, end + gap)
    return [resources.engine_resource(view, busy[view.id]) for view in views]


def _buffer(request: dict) -> dt.timedelta:
    try:
        return parse_duration(_duration_text(request, "buffer")).as_timedelta()
    except InvalidDuration as error:
        raise _invalid("buffer", str(error)) from None


def find_availability(request: dict, now: dt.datetime) -> list[OfferedSlot]:
    """``POST /availability``: the slots in ``[from, to)`` offered in ``mode``."""
    request = {**DEFAULTS, **request}
    start = _time(request, "from", now)
    end = _time(request, "to", now)
    if end <= start:
        raise _invalid("to", "Must be after from.")
    length = _duration_text(request, "length")
    increment = (_duration_text(request, "timeslot_increments")
                 if request.get("timeslot_increments") is not None else None)
    buffer = _buffer(request)
    views = _resources(request["resources"])
    listed = len(views) if request["mode"] in ("mutual", "exclusive") else 1
    _bound_answer(start, end, increment or length, listed,
                  "timeslot_increments" if increment else "length")
    try:
        slots = availability.free_slots(
            _busy(views, start, end, buffer), mode=request["mode"], start=start, end=end,
            length=length, increment=increment, buffer=buffer,
            request_constraints=request["constraints"], now=now,
            output_timezone=request["output_timezone"])
    except availability.AvailabilityError as error:
        raise _engine_error(error, {}) from None
    return _answer(views, slots)


def find_time(request: dict, now: dt.datetime) -> list[OfferedSlot]:
    """``POST /findtime``: when every listed pet is free, from now until ``future``."""
    request = {**FINDTIME_DEFAULTS, **request}
    if not request.get("resources"):
        raise _invalid("resources", f"Give 1 to {availability.MAX_RESOURCES} pet ids.")
    future = _duration_text(request, "future")
    length = _duration_text(request, "length")
    buffer = _buffer(request)
    end = _time({"future": future}, "future", now)
    views = _resources(request["resources"])
    step = "15 minutes" if request["all_solutions"] is True else length
    _bound_answer(now, end, step, len(views), "future")
    try:
        slots = availability.findtime(
            _busy(views, now, end, buffer), future=future, length=length, buffer=buffer,
            all_solutions=request["all_solutions"], request_constraints=request["constraints"],
            now=now, output_timezone=request["output_timezone"])
    except availability.AvailabilityError as error:
        raise _engine_error(error, {"to": "future", "from": "future"}) from None
    return _answer(views, slots)


__all__ = ["OfferedSlot", "ResourceRef", "find_availability", "find_time"]
