"""Timekit durations ("2 hours", "6 months") and the ``from``/``to`` times of availability.

Pure functions, no Flask: the HTTP layer turns ``InvalidDuration``/``InvalidTime`` into 400s.

Why a dataclass and not a ``timedelta``: "1 month" is a calendar month (January 31 + 1 month is
February 28), which no fixed length expresses. Minutes, hours, days and weeks are elapsed time
(a "1 day" notice is 24 hours even across a daylight-saving change), because Timekit's notice,
horizon, buffer and length settings measure how long something lasts, not wall-clock dates.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "Duration",
    "InvalidDuration",
    "InvalidTime",
    "as_duration",
    "parse_duration",
    "parse_relative_or_absolute",
    "parse_rfc3339",
]

EXPECTED_FORM = '"<n> <unit>" with n a whole number and unit minutes, hours, days, weeks or months'

_UNITS = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks", "month": "months"}
_DURATION = re.compile(r"(\d{1,7}) +(minute|hour|day|week|month)s?", re.IGNORECASE)
# RFC 3339 date-time: the offset (Z or +hh:mm) is required, so a time is never ambiguous.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)


class InvalidDuration(ValueError):
    """A duration that is not Timekit's ``"<n> <unit>"``; the message names the expected form."""


class InvalidTime(ValueError):
    """A ``from``/``to`` value that is neither "now", RFC 3339 with an offset, nor a duration."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time: calendar ``months`` plus a fixed ``fixed`` part.

    Kept apart because months are added on the calendar and the rest as elapsed time.
    """

    months: int = 0
    fixed: timedelta = timedelta(0)

    @property
    def is_fixed(self) -> bool:
        """True when the duration has one length whatever date it starts on (no months)."""
        return self.months == 0

    def as_timedelta(self) -> timedelta:
        """The fixed length; months have none, so they raise ``InvalidDuration``."""
        if self.months:
            raise InvalidDuration(
                "must be a fixed length (minutes, hours, days or weeks), not months"
            )
        return self.fixed

    def add_to(self, moment: datetime) -> datetime:
        """``moment`` plus this duration: months on ``moment``'s wall-clock calendar (the day is
        clamped to the month's last), then the fixed part as elapsed time (through UTC, so that
        adding hours across a daylight-saving change lands on the right instant)."""
        if moment.tzinfo is None:
            raise ValueError("add_to needs an aware datetime")
        if self.months:
            year, month0 = divmod(moment.year * 12 + moment.month - 1 + self.months, 12)
            day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
            moment = moment.replace(year=year, month=month0 + 1, day=day)
        if not self.fixed:
            return moment
        zone = moment.tzinfo
        return (moment.astimezone(UTC) + self.fixed).astimezone(zone)

    def __str__(self) -> str:
        """Timekit's form, in the largest unit that is exact ("90 minutes", "2 weeks")."""
        months = _plural(self.months, "month")
        if self.months and not self.fixed:
            return months
        minutes, rest = divmod(self.fixed, timedelta(minutes=1))
        text = _plural(minutes, "minute")
        for unit, size in (("week", 7 * 24 * 60), ("day", 24 * 60), ("hour", 60)):
            if minutes and minutes % size == 0:
                text = _plural(minutes // size, unit)
                break
        if rest:
            text = f"{self.fixed.total_seconds() / 60:g} minutes"
        return f"{months} + {text}" if self.months else text


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def parse_duration(value: object) -> Duration:
    """Parse ``"<n> <unit>"`` (``"90 minutes"``, ``"1 hour"``, ``"6 months"``); n >= 0.

    Singular and plural units are both accepted, case-insensitively, because Timekit's own
    examples mix them ("1 hour", "2 hours").
    """
    if not isinstance(value, str):
        raise InvalidDuration(f"must be a string of the form {EXPECTED_FORM}")
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise InvalidDuration(f"{value!r} is not a duration; expected {EXPECTED_FORM}")
    count = int(match.group(1))
    unit = _UNITS[match.group(2).lower()]
    if unit == "months":
        return Duration(months=count)
    return Duration(fixed=timedelta(**{unit: count}))


def as_duration(value: Duration | timedelta | str) -> Duration:
    """Accept a ``Duration``, a ``timedelta`` or Timekit's string, so callers need not convert."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise InvalidDuration("must not be negative")
        return Duration(fixed=value)
    return parse_duration(value)


def parse_rfc3339(value: object) -> datetime:
    """An RFC 3339 date-time with its offset, returned in UTC.

    A time without an offset is refused: the service could only guess which zone was meant.
    """
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise InvalidTime(
            f"{value!r} is not an RFC 3339 date-time with an offset, "
            "e.g. 2026-03-29T09:00:00+02:00 or 2026-03-29T07:00:00Z"
        )
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError as exc:  # e.g. month 13: the shape was right, the values not
        raise InvalidTime(f"{value!r} is not a valid RFC 3339 date-time: {exc}") from None


def parse_relative_or_absolute(value: object, now: datetime) -> datetime:
    """Availability's ``from``/``to``: "now", an RFC 3339 date-time, or a duration from ``now``.

    Returns an aware UTC datetime.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "now":
            return now.astimezone(UTC)
        if text[:1].isdigit() and _DURATION.fullmatch(text):
            return parse_duration(text).add_to(now.astimezone(UTC))
        if _RFC3339.fullmatch(text):
            return parse_rfc3339(text)
    raise InvalidTime(
        f'{value!r} must be "now", an RFC 3339 date-time with an offset, or {EXPECTED_FORM} '
        "from now"
    )
