"""Testing aids on the service's clock (contract section 4): the wire shape of
``GET``/``PUT /testing/clock`` and moving the clock by a body."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields, validate

from .booking.durations import InvalidDuration, parse_duration
from .clock import now, set_now
from .errors import Invalid


class ClockSchema(ma.Schema):
    """``{"now": RFC 3339}`` out; in, either ``now`` or ``advance`` ("6 minutes")."""

    now = fields.AwareDateTime(format="iso", metadata={"example": "2030-01-01T10:06:00+00:00"})
    advance = fields.String(load_only=True, validate=validate.Length(max=64),
                            metadata={"example": "6 minutes"})

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        if len(data) != 1:
            raise ma.ValidationError({"_schema": ["Give either `now` or `advance`."]})
        if "advance" in data:
            try:
                parse_duration(data["advance"])
            except InvalidDuration as error:
                raise ma.ValidationError({"advance": [str(error)]}) from None


# How far the clock may be moved from real time: far enough for any test, near enough that
# every time the service computes from it (token expiry, due times) stays representable.
MAX_SHIFT = dt.timedelta(days=100 * 366)


def move(data: dict) -> dt.datetime:
    """Apply a loaded ``ClockSchema`` body: set the clock or advance it; commits."""
    field = "now" if "now" in data else "advance"
    try:
        moment = (data["now"].astimezone(dt.UTC) if field == "now"
                  else parse_duration(data["advance"]).add_to(now()))
        if abs(moment - dt.datetime.now(dt.UTC)) > MAX_SHIFT:
            raise OverflowError
    except (OverflowError, ValueError):
        raise Invalid("The clock may be moved up to 100 years from real time",
                      errors={field: ["Out of range."]}) from None
    return set_now(moment)
