"""Wire formats of resource settings and availability (contract sections 6 and 7).

These schemas check types and document the operations; the rules of each value (an IANA
timezone, a known graph, a Timekit duration, a constraint's fields) are checked once, in
``resources.validate_settings`` and in the availability engine, which name the field.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .booking.availability import MAX_RESOURCES, MODES
from .booking.graphs import GRAPHS
from .resources import DEFAULTS
from .schemas import Int64

DURATION = {"description": 'Timekit\'s "<n> <unit>": minutes, hours, days, weeks or months'}
CONSTRAINT_EXAMPLE = [{"allow_day": {"day": "Monday"}}, {"allow_hours": {"start": 9, "end": 17}}]


def _duration(example: str, **kwargs):
    return fields.String(validate=validate.Length(max=32),
                         metadata={**DURATION, "example": example}, **kwargs)


def _constraints(**kwargs):
    return fields.List(fields.Dict(), validate=validate.Length(max=100), metadata={
        "description": "Timekit's constraints, e.g. allow_hours, block_day, allow_period",
        "example": CONSTRAINT_EXAMPLE}, **kwargs)


class ResourceSchema(ma.Schema):
    """A pet as a bookable resource: its settings (``resources.ResourceView``)."""

    id = Int64(metadata={"description": "the pet's id"})
    name = fields.String(metadata={"description": "the pet's name (read-only)"})
    timezone = fields.String(metadata={"example": "Europe/Oslo"})
    graphs = fields.List(fields.String(), metadata={"example": DEFAULTS["graphs"]})
    availability_constraints = _constraints()
    min_booking_notice = _duration("2 hours")
    max_booking_horizon = _duration("6 months")
    max_booking_length = _duration("1 day")
    buffer = _duration("15 minutes")
    max_live_bookings_per_booker = fields.Integer(metadata={"example": 20})


class ResourceUpdateSchema(ma.Schema):
    """The settings to change; those left out keep their value. ``id`` and ``name`` are
    read-only and ignored, so that a document read with GET can be sent back."""

    id = Int64(load_only=True)
    name = fields.String(load_only=True)
    timezone = fields.String(validate=validate.Length(max=64),
                             metadata={"description": "IANA name", "example": "Europe/Oslo"})
    graphs = fields.List(fields.String(), validate=validate.Length(max=len(GRAPHS) * 2),
                         metadata={"description": "graphs others may book this pet with",
                                   "example": list(GRAPHS)})
    availability_constraints = _constraints()
    min_booking_notice = _duration("2 hours")
    max_booking_horizon = _duration("6 months")
    max_booking_length = _duration("1 day")
    buffer = _duration("15 minutes")
    max_live_bookings_per_booker = fields.Integer(strict=True, metadata={"example": 20})

    @ma.post_load
    def settings_only(self, data, **kwargs):
        data.pop("id", None)
        data.pop("name", None)
        return data


class AvailabilityRequestSchema(ma.Schema):
    mode = fields.String(validate=validate.OneOf(MODES), metadata={
        "description": "mutual: all listed free; exclusive: any free, listing all free ones; "
                       "roundrobin_random: one free at random; roundrobin_prioritized: the "
                       "first free in the order given",
        "example": "roundrobin_random"})
    resources = fields.List(Int64(), required=True,
                            validate=validate.Length(min=1, max=MAX_RESOURCES),
                            metadata={"description": "pet ids", "example": [1, 2]})
    from_ = fields.String(data_key="from", validate=validate.Length(max=64), metadata={
        "description": '"now", an RFC 3339 date-time or a duration from now',
        "example": "now"})
    to = fields.String(validate=validate.Length(max=64), metadata={
        "description": "an RFC 3339 date-time or a duration from now; at most 6 months "
                       "after from", "example": "4 weeks"})
    length = _duration("1 hour")
    timeslot_increments = _duration("30 minutes", allow_none=True)
    buffer = _duration("0 minutes")
    constraints = _constraints()
    output_timezone = fields.String(validate=validate.Length(max=64),
                                    metadata={"example": "Europe/Oslo"})

    @ma.post_load
    def wire_names(self, data, **kwargs):
        if "from_" in data:
            data["from"] = data.pop("from_")
        return data


class FindtimeRequestSchema(ma.Schema):
    resources = fields.List(Int64(), validate=validate.Length(min=1, max=MAX_RESOURCES),
                            metadata={"description": "pet ids (required in practice)",
                                      "example": [1, 2]})
    future = _duration("4 weeks")
    length = _duration("1 hour")
    buffer = _duration("0 minutes")
    all_solutions = fields.Boolean(metadata={
        "description": "also overlapping solutions (every 15 minutes)"})
    constraints = _constraints()
    output_timezone = fields.String(validate=validate.Length(max=64),
                                    metadata={"example": "UTC"})


class IsoTime(fields.Field):
    """An aware datetime as RFC 3339 with its offset, exactly as ``isoformat`` writes it."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value.isoformat()


class ResourceRefSchema(ma.Schema):
    id = Int64()
    name = fields.String()


class SlotSchema(ma.Schema):
    start = IsoTime(metadata={"type": "string", "format": "date-time"})
    end = IsoTime(metadata={"type": "string", "format": "date-time"})
    resources = fields.List(fields.Nested(ResourceRefSchema))


class SlotList(fields.List):
    """A list of ``SlotSchema`` (and documented as one), dumped in one loop.

    An answer holds up to thousands of slots; marshmallow's per-field machinery costs about
    40 us per slot (most of a 700-slot answer's time, benchmarks/PROFILE.md), so this field
    writes each slot's three keys itself, exactly as ``SlotSchema`` would, and shares one
    ``{"id", "name"}`` object per pet.
    """

    def __init__(self, **kwargs):
        super().__init__(fields.Nested(SlotSchema), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        refs: dict = {}

        def offered(resources):
            out = []
            for resource in resources:
                found = refs.get(resource.id)
                if found is None:
                    found = refs[resource.id] = {"id": resource.id, "name": resource.name}
                out.append(found)
            return out

        return [{"start": slot.start.isoformat(), "end": slot.end.isoformat(),
                 "resources": offered(slot.resources)}
                for slot in value]


class SlotListSchema(ma.Schema):
    data = SlotList()
