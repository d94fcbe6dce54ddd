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


def move(data: dict) -> dt.datetime:
    """Apply a loaded ``ClockSchema`` body: set the clock or advance it; commits."""
    if "now" in data:
        try:
            return set_now(data["now"].astimezone(dt.UTC))
        except (OverflowError, ValueError):
            raise Invalid("Out of range", errors={"now": ["Out of range."]}) from None
    try:
        return set_now(parse_duration(data["advance"]).add_to(now()))
    except (OverflowError, ValueError):
        raise Invalid("Out of range", errors={"advance": ["Out of range."]}) from None
