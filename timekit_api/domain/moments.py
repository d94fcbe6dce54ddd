"""The one range of instants the service accepts in any date-time field.

Python's datetimes end at years 1 and 9999, and a value near either end with an offset
(``0001-01-01T00:00:00+01:00``, ``9999-12-31T23:59:59-01:00``) cannot even be converted to
UTC; such values must be refused as input (400 naming the field), never reach the
database and never raise later. Every date-time field of every body reads this range
(``Moment``): order ``shipDate``, booking ``start``/``end``...
"""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields

EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=dt.UTC)
RANGE_RULE = f"Out of range: between {EARLIEST.date()} and {LATEST.date()} (UTC)."


def in_range(moment: dt.datetime) -> dt.datetime:
    """``moment`` (aware) in UTC; ValidationError outside [EARLIEST, LATEST]."""
    try:
        utc = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ma.ValidationError(RANGE_RULE) from None
    if not EARLIEST <= utc <= LATEST:
        raise ma.ValidationError(RANGE_RULE)
    return utc


OFFSET_REQUIRED = "A timezone offset is required (for example 2030-01-01T10:00:00Z or +01:00)."


class Moment(fields.AwareDateTime):
    """An RFC 3339 date-time inside the service's range, converted to UTC. Without
    ``default_timezone`` a value without an offset is refused, saying so."""

    default_error_messages = {"invalid_awareness": OFFSET_REQUIRED}

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "iso")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return in_range(super()._deserialize(value, attr, data, **kwargs))
