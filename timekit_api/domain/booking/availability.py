"""Availability: which slots the listed resources are free for (contract section 7).

Pure functions over half-open UTC intervals ``[start, end)``; no Flask, no database. The HTTP
layer loads resources and their live bookings into ``Resource`` values, calls ``free_slots`` and
maps ``AvailabilityError``/``InvalidConstraint`` to 400s.

How it works, and why:

* Everything is interval arithmetic (free = allowed - widened busy), never a minute grid, so the
  cost grows with the number of bookings and slots, not with the length of the window.
* Constraints are wall-clock rules ("09:00 to 17:00 on Mondays") in the resource's timezone. They
  are built as wall-clock intervals per local calendar day and mapped back to UTC through the
  zone's offset segments (the spans between two offset changes). An instant is open when its
  local wall time is inside a rule, so wall times skipped by a spring-forward are simply never
  open, both occurrences of a repeated autumn hour are, and an autumn day has 25 open hours.
* Each resource's free intervals are computed once; every candidate slot is then a bisect.

Decisions where the contract is silent (each has a test):

* Hours are rounded to whole minutes (9.5 is 09:30, 9.25 is 09:15). ``end < start`` wraps past
  midnight (``22 -> 6`` is 22:00 to 06:00 the next day, for ``*_day_and_time`` starting on the
  named day); ``end == start`` is refused as ambiguous (empty or the whole day?); ``end`` may be
  24 (midnight at the end of the day).
* The request's constraints narrow each resource's own: both sets are evaluated separately
  (each with Timekit's allow/block rule) and intersected, so a request can never open time the
  owner closed.
* A slot lies entirely inside ``[from, to)``; none starts before ``now + min_booking_notice``
  (so never in the past); none ends after ``now + max_booking_horizon``.
* Slot starts follow the output timezone's wall clock: the local hour containing ``from``, plus
  k x increment in wall-clock time. A grid time skipped by spring-forward gives no slot; a grid
  time repeated in autumn gives two (one per UTC instant). So 09:00 slots stay at 09:00 after a
  daylight-saving change, also in half-hour-shift zones (Australia/Lord_Howe).
* Days and weeks in settings are elapsed time; months are calendar months (``durations``).
* ``findtime`` is ``mutual`` from now until ``now + future``; without ``all_solutions`` the
  slots follow each other (increment = length), with it they start every 15 minutes.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .durations import (
    Duration,
    InvalidDuration,
    InvalidTime,
    as_duration,
    parse_rfc3339,
)

__all__ = [
    "ALL_SOLUTIONS_INCREMENT",
    "MAX_RESOURCES",
    "MAX_WINDOW",
    "MODES",
    "AvailabilityError",
    "Constraint",
    "InvalidConstraint",
    "Resource",
    "Slot",
    "allowed_intervals",
    "findtime",
    "free_slots",
    "intersect",
    "normalise",
    "offset_segments",
    "parse_constraints",
    "subtract",
    "union",
]

Interval = tuple[datetime, datetime]

MODES = ("roundrobin_random", "roundrobin_prioritized", "mutual", "exclusive")
MAX_RESOURCES = 50
MAX_WINDOW = Duration(months=6)
ALL_SOLUTIONS_INCREMENT = timedelta(minutes=15)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_INDEX = {name.lower(): index for index, name in enumerate(DAYS)}
_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time()


class AvailabilityError(ValueError):
    """A request the engine cannot answer (bad mode, window, length, timezone...)."""


class InvalidConstraint(AvailabilityError):
    """A malformed constraint; ``path`` names the field, e.g. ``constraints[2].allow_hours.start``.

    The message starts with the path too, so it can be shown as it is.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# ---------------------------------------------------------------------------------------------
# Interval arithmetic on half-open intervals. Works for any ordered values (datetimes, numbers).


def normalise(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-empty intervals; overlapping or touching ones are merged."""
    merged: list[list[Any]] = []
    for start, end in sorted(interval for interval in intervals if interval[0] < interval[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def union(*interval_sets: Iterable[Interval]) -> list[Interval]:
    """The union of any number of interval sets, normalised."""
    return normalise(interval for intervals in interval_sets for interval in intervals)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The intersection of two normalised interval sets (linear merge)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """``a`` minus ``b``, both normalised (linear merge)."""
    out: list[Interval] = []
    j = 0
    for start, end in a:
        while j < len(b) and b[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                out.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


# ---------------------------------------------------------------------------------------------
# Timezones: offset segments, so wall-clock intervals map to UTC without a minute grid.

_PROBE = timedelta(hours=6)
_TICK = timedelta(microseconds=1)


def _zone(value: str | ZoneInfo, what: str) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # "Europe" is a folder
        raise AvailabilityError(f"{what}: {value!r} is not an IANA timezone") from None


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@lru_cache(maxsize=512)
def offset_segments(
    zone: ZoneInfo, start: datetime, end: datetime
) -> tuple[tuple[datetime, datetime, timedelta], ...]:
    """Split ``[start, end)`` (aware UTC) into spans of constant UTC offset in ``zone``.

    ``zoneinfo`` does not expose its transitions, so the offset is probed every 6 hours and a
    change is located exactly by bisection. Two transitions less than 6 hours apart that cancel
    out would be missed; no zone in the tz database has such a pair.
    """
    segments = []
    seg_start = start
    offset = _offset(zone, start)
    last = end - _TICK  # the last instant inside the window
    probe = start
    while probe < last:
        nxt = min(probe + _PROBE, last)
        if _offset(zone, nxt) == offset:
            probe = nxt
            continue
        low, high = probe, nxt  # offset(low) == offset != offset(high): bisect to the change
        while high - low > _TICK:
            middle = low + (high - low) // 2
            if _offset(zone, middle) == offset:
                low = middle
            else:
                high = middle
        segments.append((seg_start, high, offset))
        seg_start = probe = high
        offset = _offset(zone, high)
    segments.append((seg_start, end, offset))
    return tuple(segments)


def _wall_to_utc(
    walls: Sequence[tuple[datetime, datetime]],
    segments: Sequence[tuple[datetime, datetime, timedelta]],
) -> list[Interval]:
    """UTC instants whose local wall time lies in one of ``walls`` (naive wall-clock intervals).

    Per segment the wall clock is UTC + a constant offset, so the preimage is one subtraction and
    a clip; a wall time in a spring-forward gap belongs to no segment, and one repeated in autumn
    belongs to two.
    """
    out: list[Interval] = []
    for seg_start, seg_end, offset in segments:
        for wall_start, wall_end in walls:
            start = max((wall_start - offset).replace(tzinfo=UTC), seg_start)
            end = min((wall_end - offset).replace(tzinfo=UTC), seg_end)
            if start < end:
                out.append((start, end))
    return normalise(out)


# ---------------------------------------------------------------------------------------------
# Constraints

_HOURS = ("start", "end")
_FIELDS: dict[str, tuple[str, ...]] = {
    "hours": _HOURS,
    "day": ("day",),
    "day_and_time": ("day", *_HOURS),
    "period": _HOURS,
    "weekdays": (),
    "weekends": (),
}
KINDS = tuple(f"{side}_{base}" for base in _FIELDS for side in ("allow", "block"))


@dataclass(frozen=True, slots=True)
class Constraint:
    """One validated constraint.

    ``start``/``end`` are minutes after local midnight for the wall-clock kinds (``end`` is
    already past 1440 when the rule wraps past midnight), or UTC datetimes for ``period``.
    ``day`` is 0 (Monday) .. 6 (Sunday).
    """

    allow: bool
    base: str
    day: int | None = None
    start: Any = None
    end: Any = None

    @property
    def kind(self) -> str:
        return f"{'allow' if self.allow else 'block'}_{self.base}"


def _hours(value: object, path: str) -> int:
    """Hours 0..24 with decimals for minutes (9.5 = 09:30), as whole minutes after midnight."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidConstraint(path, "must be a number of hours from 0 to 24 (9.5 is 09:30)")
    if not 0 <= value <= 24:
        raise InvalidConstraint(path, "must be from 0 to 24 (hours; 9.5 is 09:30)")
    return round(value * 60)


def _parse_one(raw: object, path: str) -> Constraint:
    if isinstance(raw, Constraint):
        return raw
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise InvalidConstraint(
            path, 'must be an object with exactly one key, e.g. {"allow_hours": {...}}'
        )
    ((kind, body),) = raw.items()
    side, _, base = str(kind).partition("_")
    if side not in ("allow", "block") or base not in _FIELDS:
        raise InvalidConstraint(
            f"{path}.{kind}", f"unknown constraint kind; expected one of {', '.join(KINDS)}"
        )
    path = f"{path}.{kind}"
    if not isinstance(body, Mapping):
        raise InvalidConstraint(path, "must be an object")
    expected = _FIELDS[base]
    for name in body:
        if name not in expected:
            allowed = ", ".join(expected) if expected else "none"
            raise InvalidConstraint(f"{path}.{name}", f"unknown field (expected: {allowed})")
    for name in expected:
        if name not in body:
            raise InvalidConstraint(f"{path}.{name}", "is required")
    day = None
    if "day" in expected:
        value = body["day"]
        day = _DAY_INDEX.get(value.lower()) if isinstance(value, str) else None
        if day is None:
            raise InvalidConstraint(f"{path}.day", f"must be one of {', '.join(DAYS)}")
    start = end = None
    if base == "period":
        try:
            start = parse_rfc3339(body["start"])
        except InvalidTime as exc:
            raise InvalidConstraint(f"{path}.start", str(exc)) from None
        try:
            end = parse_rfc3339(body["end"])
        except InvalidTime as exc:
            raise InvalidConstraint(f"{path}.end", str(exc)) from None
        if end <= start:
            raise InvalidConstraint(f"{path}.end", "must be after start")
    elif "start" in expected:
        start = _hours(body["start"], f"{path}.start")
        end = _hours(body["end"], f"{path}.end")
        if start == 24 * 60:
            raise InvalidConstraint(f"{path}.start", "must be before 24")
        if end == start:
            raise InvalidConstraint(f"{path}.end", "must differ from start")
        if end < start:  # wraps past midnight: 22 -> 6 is 22:00 to 06:00 the next day
            end += 24 * 60
    return Constraint(allow=side == "allow", base=base, day=day, start=start, end=end)


def parse_constraints(raw: object, path: str = "constraints") -> list[Constraint]:
    """Validate Timekit constraints (a list of one-key objects) into ``Constraint`` values.

    Already parsed ``Constraint`` values pass through, so callers may store either form.
    """
    if raw is None:
        return []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        raise InvalidConstraint(path, "must be a list of constraints")
    return [_parse_one(item, f"{path}[{index}]") for index, item in enumerate(raw)]


def _wall_intervals(constraint: Constraint, days: Sequence[date]) -> list[tuple[datetime, ...]]:
    """The constraint's naive wall-clock intervals over the given local calendar days."""
    base = constraint.base
    out = []
    for day in days:
        weekday = day.weekday()
        if base == "day" or base == "day_and_time":
            if weekday != constraint.day:
                continue
        elif base == "weekdays":
            if weekday >= 5:
                continue
        elif base == "weekends":
            if weekday < 5:
                continue
        midnight = datetime.combine(day, _MIDNIGHT)
        if base in ("hours", "day_and_time"):
            out.append(
                (
                    midnight + timedelta(minutes=constraint.start),
                    midnight + timedelta(minutes=constraint.end),
                )
            )
        else:
            out.append((midnight, midnight + _ONE_DAY))
    return out


def _evaluate(
    constraints: Sequence[Constraint], zone: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """The union of the constraints' time inside ``[start, end)``, in UTC."""
    first = start.astimezone(zone).date() - _ONE_DAY  # a rule wrapping from the previous day
    count = (end.astimezone(zone).date() - first).days + 2
    days = [first + timedelta(days=n) for n in range(count)]
    walls: list[tuple[datetime, ...]] = []
    periods: list[Interval] = []
    for constraint in constraints:
        if constraint.base == "period":
            periods.append((max(constraint.start, start), min(constraint.end, end)))
        else:
            walls.extend(_wall_intervals(constraint, days))
    return union(_wall_to_utc(normalise(walls), offset_segments(zone, start, end)), periods)


def allowed_intervals(
    constraints: Sequence[Any], zone: str | ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """Open time in ``[start, end)`` (aware UTC) under Timekit's rule, in UTC.

    With any ``allow_*``, only their union is open; every ``block_*`` then closes time; no
    constraints at all: always open. ``constraints`` may be raw or parsed.
    """
    constraints = parse_constraints(constraints)
    zone = _zone(zone, "timezone")
    if start >= end:
        return []
    allows = [c for c in constraints if c.allow]
    blocks = [c for c in constraints if not c.allow]
    open_ = _evaluate(allows, zone, start, end) if allows else [(start, end)]
    if blocks and open_:
        open_ = subtract(open_, _evaluate(blocks, zone, start, end))
    return open_


# ---------------------------------------------------------------------------------------------
# Resources and slots


@dataclass(frozen=True)
class Resource:
    """A bookable resource as the engine needs it: settings and its live bookings.

    Durations may be ``Duration``, ``timedelta`` or Timekit strings; ``constraints`` raw Timekit
    objects or parsed ``Constraint`` values; ``busy`` the live bookings' ``[start, end)``
    (aware datetimes), without the buffer (the engine adds it).
    """

    id: Any
    name: str = ""
    timezone: str | ZoneInfo = "UTC"
    constraints: Sequence[Any] = ()
    min_booking_notice: Duration | timedelta | str = "0 minutes"
    max_booking_horizon: Duration | timedelta | str = "6 months"
    max_booking_length: Duration | timedelta | str = "1 day"
    buffer: Duration | timedelta | str = "0 minutes"
    busy: Sequence[Interval] = field(default_factory=tuple)


class Slot(NamedTuple):
    """One answer: ``[start, end)`` in the output timezone and the ids of the resources offered."""

    start: datetime
    end: datetime
    resource_ids: list[Any]


def _duration(value: object, what: str) -> Duration:
    try:
        return as_duration(value)  # type: ignore[arg-type]
    except InvalidDuration as exc:
        raise AvailabilityError(f"{what}: {exc}") from None


def _fixed(value: object, what: str, *, positive: bool) -> timedelta:
    try:
        length = _duration(value, what).as_timedelta()
    except InvalidDuration as exc:
        raise AvailabilityError(f"{what}: {exc}") from None
    if positive and length <= timedelta(0):
        raise AvailabilityError(f"{what}: must be longer than 0 minutes")
    return length


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise AvailabilityError(f"{what}: must be an aware datetime")
    return moment.astimezone(UTC)


def _free_intervals(
    resource: Resource,
    index: int,
    request_constraints: Sequence[Constraint],
    *,
    start: datetime,
    end: datetime,
    length: timedelta,
    buffer: timedelta,
    now: datetime,
) -> tuple[list[Interval], Duration | None]:
    """The resource's free time in the window, and its max length when it must be checked per
    slot (calendar months); an empty list when it can never be free."""
    what = f"resources[{index}]"
    zone = _zone(resource.timezone, f"{what}.timezone")
    own = parse_constraints(resource.constraints, f"{what}.availability_constraints")
    notice = _duration(resource.min_booking_notice, f"{what}.min_booking_notice")
    horizon = _duration(resource.max_booking_horizon, f"{what}.max_booking_horizon")
    max_length = _duration(resource.max_booking_length, f"{what}.max_booking_length")
    own_buffer = _fixed(resource.buffer, f"{what}.buffer", positive=False)
    per_slot_length = None
    if max_length.is_fixed:
        if length > max_length.fixed:
            return [], None
    elif length > max_length.fixed + timedelta(days=28 * max_length.months):
        per_slot_length = max_length  # depends on the month the slot starts in
    low = max(start, notice.add_to(now))
    high = min(end, horizon.add_to(now))
    if low >= high:
        return [], None
    open_ = allowed_intervals(own, zone, low, high)
    if request_constraints and open_:
        open_ = intersect(open_, allowed_intervals(request_constraints, zone, low, high))
    if not open_:
        return [], None
    widen = max(own_buffer, buffer)
    busy = resource.busy
    if widen:
        busy = [(b_start - widen, b_end + widen) for b_start, b_end in busy]
    try:
        # Aware datetimes of any zone compare by instant; a naive one fails the comparison.
        # No per-value conversion: a pet has thousands of bookings (benchmarks/PROFILE.md).
        return subtract(open_, normalise(busy)), per_slot_length
    except TypeError:
        raise AvailabilityError(f"{what}.busy: must be aware datetimes") from None


def _candidate_starts(
    zone: ZoneInfo, start: datetime, end: datetime, length: timedelta, increment: timedelta
) -> list[datetime]:
    """Slot starts: every instant >= ``start`` whose wall time in ``zone`` is on the grid
    "the local hour of ``start`` + k x increment" (wall-clock arithmetic), with room for
    ``length`` before ``end``.

    The grid is on the wall clock so that 09:00 stays 09:00 after a daylight-saving change; a grid
    time skipped by spring-forward gives no slot, one repeated in autumn gives two (one per UTC
    instant), like the allowed-time rule.
    """
    last = end - length
    if last < start:
        return []
    anchor = start.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    starts: list[datetime] = []
    for seg_start, seg_end, offset in offset_segments(zone, start, end):
        base = (anchor - offset).replace(tzinfo=UTC)  # the grid's origin under this offset
        low = max(seg_start, start)
        k = -((base - low) // increment)  # ceiling division: first grid point >= low
        moment = base + k * increment
        stop = min(seg_end - _TICK, last)
        while moment <= stop:
            starts.append(moment)
            moment += increment
    return starts


def _is_free(
    starts: list[datetime], ends: list[datetime], slot_start: datetime, slot_end: datetime
) -> bool:
    """Does one free interval (sorted, disjoint: ``starts``/``ends``) contain the slot?"""
    index = bisect_right(starts, slot_start) - 1
    return index >= 0 and ends[index] >= slot_end


def free_slots(
    resources: Sequence[Resource],
    *,
    mode: str = "roundrobin_random",
    start: datetime,
    end: datetime,
    length: Duration | timedelta | str = "1 hour",
    increment: Duration | timedelta | str | None = None,
    buffer: Duration | timedelta | str = "0 minutes",
    request_constraints: Sequence[Any] = (),
    now: datetime,
    output_timezone: str | ZoneInfo = "UTC",
    rng: random.Random | None = None,
) -> list[Slot]:
    """The slots ``[s, s + length)`` inside ``[start, end)`` offered in ``mode``, in time order.

    ``increment`` defaults to ``length``. Times come back in ``output_timezone``; resource ids in
    the order the resources were given. Raises ``AvailabilityError`` (``InvalidConstraint`` for a
    bad constraint) for anything malformed.
    """
    if mode not in MODES:
        raise AvailabilityError(f"mode: must be one of {', '.join(MODES)}")
    if not 1 <= len(resources) <= MAX_RESOURCES:
        raise AvailabilityError(f"resources: give 1 to {MAX_RESOURCES} resources")
    ids = [resource.id for resource in resources]
    if len(set(ids)) != len(ids):
        raise AvailabilityError("resources: each resource may be listed once")
    start = _utc(start, "from")
    end = _utc(end, "to")
    now = _utc(now, "now")
    if end > MAX_WINDOW.add_to(start):
        raise AvailabilityError("to: must be at most 6 months after from")
    length_ = _fixed(length, "length", positive=True)
    step = length_ if increment is None else _fixed(increment, "timeslot_increments", positive=True)
    buffer_ = _fixed(buffer, "buffer", positive=False)
    zone = _zone(output_timezone, "output_timezone")
    request = parse_constraints(request_constraints, "constraints")

    checks = []  # per resource: (id, starts, ends, per-slot max length or None)
    for index, resource in enumerate(resources):
        free, per_slot = _free_intervals(
            resource,
            index,
            request,
            start=start,
            end=end,
            length=length_,
            buffer=buffer_,
            now=now,
        )
        checks.append((resource.id, [a for a, _ in free], [b for _, b in free], per_slot))
    if mode == "mutual" and all(per_slot is None for *_, per_slot in checks):
        # one bisect per slot against the intersection of everyone's free time
        common = list(zip(checks[0][1], checks[0][2], strict=True))
        for _, starts, ends, _ in checks[1:]:
            common = intersect(common, list(zip(starts, ends, strict=True)))
        checks = [(None, [a for a, _ in common], [b for _, b in common], None)]
    candidates = _candidate_starts(zone, start, end, length_, step)
    if len(checks) == 1 and checks[0][3] is None:  # one pet, or `mutual` merged into one
        offered = list(ids) if mode == "mutual" else [checks[0][0]]
        return [Slot(slot_start.astimezone(zone), (slot_start + length_).astimezone(zone), offered)
                for slot_start in _contained(candidates, length_, checks[0][1], checks[0][2])]
    chooser = rng if rng is not None else random.Random()

    slots: list[Slot] = []
    for slot_start in candidates:
        slot_end = slot_start + length_
        free_ids = [
            resource_id
            for resource_id, starts, ends, per_slot in checks
            if _is_free(starts, ends, slot_start, slot_end)
            and (per_slot is None or per_slot.add_to(slot_start) >= slot_end)
        ]
        if mode == "mutual":
            if len(free_ids) != len(checks):
                continue
            free_ids = list(ids)
        elif not free_ids:
            continue
        elif mode == "roundrobin_random":
            free_ids = [chooser.choice(free_ids)]
        elif mode == "roundrobin_prioritized":
            free_ids = free_ids[:1]
        slots.append(Slot(slot_start.astimezone(zone), slot_end.astimezone(zone), free_ids))
    return slots


def _contained(candidates: list[datetime], length: timedelta, starts: list[datetime],
               ends: list[datetime]) -> list[datetime]:
    """The candidate starts whose slot lies inside one free interval: one merge walk, since
    both are sorted (the only interval that can hold a slot is the first ending at or after
    the slot's end)."""
    out = []
    index, count = 0, len(starts)
    for slot_start in candidates:
        slot_end = slot_start + length
        while index < count and ends[index] < slot_end:
            index += 1
        if index == count:
            break
        if starts[index] <= slot_start:
            out.append(slot_start)
    return out


def findtime(
    resources: Sequence[Resource],
    *,
    future: Duration | timedelta | str = "4 weeks",
    length: Duration | timedelta | str = "1 hour",
    buffer: Duration | timedelta | str = "0 minutes",
    all_solutions: bool = False,
    request_constraints: Sequence[Any] = (),
    now: datetime,
    output_timezone: str | ZoneInfo = "UTC",
) -> list[Slot]:
    """Timekit's older ``findtime``: times from now until ``future`` when all resources are free.

    Without ``all_solutions`` the slots follow each other (increment = length); with it,
    overlapping solutions are listed too, every ``ALL_SOLUTIONS_INCREMENT`` (or ``length`` when
    shorter).
    """
    now_utc = _utc(now, "now")
    step = _fixed(length, "length", positive=True)
    if all_solutions:
        step = min(step, ALL_SOLUTIONS_INCREMENT)
    return free_slots(
        resources,
        mode="mutual",
        start=now_utc,
        end=_duration(future, "future").add_to(now_utc),
        length=length,
        increment=step,
        buffer=buffer,
        request_constraints=request_constraints,
        now=now_utc,
        output_timezone=output_timezone,
    )
