"""The booking engine's wire formats (contract section 5, shaped like Timekit's API).

Graph names, states and actions accepted here come from :data:`GRAPHS`, so a new graph
needs no change in this module.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import marshmallow as ma
from marshmallow import fields, validate

from ..ids import parse_id
from ..moments import Moment
from ..schemas import Int32, Int64, ListPageSchema, Text
from .drawing import FORMATS
from .durations import InvalidDuration, parse_duration
from .graphs import CLASS, GRAPHS, INITIAL_STATE, SEAT, SYSTEM
from .notifications import NOTIFICATIONS

SEARCH_KEYS = ("state", "graph", "resource_id", "owner_booking_id")
GROUP_SEARCH_KEYS = ("resource_id",)
MAX_SEATS = 10000
# Fields a seat takes from its class (contract section 6): optional in a seat's body.
FROM_THE_CLASS = ("resource_id", "start", "end", "what")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def all_states() -> set[str]:
    return {state for graph in GRAPHS.values() for state in graph.states}


class Timestamp(Moment):
    """RFC 3339 with an offset (a naive time is refused), in the service's range
    (``moments.py``), converted to UTC."""


def valid_timezone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):  # "Europe": a folder
        raise ma.ValidationError("Not a known IANA time zone (e.g. Europe/Oslo).") from None


# --- requests ----------------------------------------------------------------------------

class CustomerSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255),
                metadata={"example": "Marty McFly"})
    email = fields.Email(required=True, validate=validate.Length(max=254),
                         metadata={"example": "marty@timekit.io"})
    phone = Text(64, allow_none=True)
    timezone = fields.String(allow_none=True, validate=[validate.Length(max=64), valid_timezone],
                             metadata={"example": "America/Los_Angeles"})


class Duration(fields.String):
    """Timekit's ``"<n> <unit>"``, loaded as its normal form ("1 day")."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return str(parse_duration(super()._deserialize(value, attr, data, **kwargs)))
        except InvalidDuration as error:
            raise ma.ValidationError(str(error)) from None


def at_most_a_year(text: str) -> None:
    duration = parse_duration(text)
    if duration.months > 12 or duration.fixed > dt.timedelta(days=366):
        raise ma.ValidationError("At most a year (12 months or 366 days).")


class ClassSettingsSchema(ma.Schema):
    max_seats = Int32(required=True, validator=validate.Range(min=1, max=MAX_SEATS),
                      metadata={"description": "places in the class", "example": 10})
    min_cancel_time = Duration(validate=[validate.Length(max=32), at_most_a_year], metadata={
        "description": "customers may cancel their seat until this long before the start "
                       "(at most a year)",
        "example": "1 day"})


class RelatedSchema(ma.Schema):
    owner_booking_id = fields.UUID(required=True, metadata={"description": "the class's id"})


class BookingCreateSchema(ma.Schema):
    graph = fields.String(required=True, validate=validate.OneOf(list(GRAPHS)),
                          metadata={"description": "the booking graph to follow",
                                    "example": "confirm_decline"})
    action = fields.String(metadata={
        "description": "the graph's entry action, applied at once; without it the booking "
                       f"waits in `{INITIAL_STATE}`",
        "example": "create"})
    resource_id = Int64(metadata={"description": "id of the pet to book (required, except "
                                                 "for a seat: its class's)"})
    start = Timestamp(metadata={"description": "required, except for a seat: its class's",
                                "example": "2026-03-01T10:00:00+01:00"})
    end = Timestamp(metadata={"description": "required, except for a seat: its class's",
                              "example": "2026-03-01T11:00:00+01:00"})
    what = fields.String(validate=validate.Length(min=1, max=255),
                         metadata={"description": "required, except for a seat: its class's",
                                   "example": "Walk the dog"})
    where = Text(allow_none=True)
    description = Text(10000, allow_none=True)
    customer = fields.Nested(CustomerSchema, required=True)
    settings = fields.Nested(ClassSettingsSchema, metadata={
        "description": "a class's (graph `group_owner`), required there"})
    related = fields.Nested(RelatedSchema, metadata={
        "description": "a seat's class (graphs `group_customer`, `group_customer_payment`), "
                       "required there"})

    @ma.validates_schema
    def check(self, data, **kwargs):
        errors = {}
        graph = GRAPHS[data["graph"]]
        if graph.kind != SEAT:
            for name in FROM_THE_CLASS:
                if name not in data:
                    errors[name] = ["Missing data for required field."]
        for name, kind in (("settings", CLASS), ("related", SEAT)):
            if graph.kind == kind and name not in data:
                errors[name] = [f"Required by graph {graph.name!r}."]
            if graph.kind != kind and name in data:
                errors[name] = [f"Not used by graph {graph.name!r}."]
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            errors.setdefault("end", ["Must be after start."])
        if "action" in data and data["action"] != graph.entry_action:
            errors["action"] = [f"Graph {graph.name!r} is entered with action "
                                f"{graph.entry_action!r}."]
        if errors:
            raise ma.ValidationError(errors)


class ActionDetailsSchema(ma.Schema):
    message = Text(1000, allow_none=True, metadata={"description": "recorded with the transition"})
    payment_id = fields.String(validate=validate.Length(min=1, max=255), metadata={
        "description": "the payment's reference; required by `pay` (instant_payment), stored "
                       "with the booking", "example": "ch_3MmlLrLkdIwHu7ix0snN0B15"})


class RescheduleSchema(ma.Schema):
    start = Timestamp(required=True, metadata={"example": "2026-03-02T10:00:00+01:00"})
    end = Timestamp(required=True, metadata={"example": "2026-03-02T11:00:00+01:00"})
    resource_id = Int64(metadata={"description": "another pet of the same owner"})
    message = Text(1000, allow_none=True, metadata={"description": "recorded with the move"})

    @ma.validates_schema
    def check(self, data, **kwargs):
        if data["end"] <= data["start"]:
            raise ma.ValidationError({"end": ["Must be after start."]})


class ActionBodySchema(ma.Schema):
    """``{"<action>": {"message": "..."}}``: optional details keyed by the action applied."""

    class Meta:
        unknown = ma.INCLUDE

    @ma.post_load
    def details(self, data, **kwargs):
        if len(data) > 1:
            raise ma.ValidationError({"_schema": ["Give details for one action only."]})
        loaded = {}
        for action, details in data.items():
            try:
                loaded = {"action": action,
                          **ActionDetailsSchema().load(details if details is not None else {})}
            except ma.ValidationError as error:
                raise ma.ValidationError({action: error.messages}) from None
        return loaded


class SearchField(fields.String):
    """Timekit's search: ``key:value`` pairs separated by ``;``. A key given twice matches
    either value; different keys must all match."""

    def __init__(self, keys: tuple[str, ...] = SEARCH_KEYS, **kwargs):
        super().__init__(**kwargs)
        self.keys = keys

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        found: dict[str, list] = {}
        for pair in filter(None, (part.strip() for part in text.split(";"))):
            key, colon, term = (s.strip() for s in pair.partition(":"))
            if not colon or not term:
                raise ma.ValidationError(f"{pair!r} is not key:value.")
            if key not in self.keys:
                raise ma.ValidationError(
                    f"Unknown search key {key!r}; expected one of {', '.join(self.keys)}.")
            if key == "state" and term not in all_states():
                raise ma.ValidationError(f"No booking graph has a state {term!r}.")
            if key == "graph" and term not in GRAPHS:
                raise ma.ValidationError(f"Unknown booking graph {term!r}.")
            if key == "resource_id":
                pet_id = parse_id(term)
                if pet_id is None:
                    raise ma.ValidationError(f"resource_id {term!r} is not a pet id.")
                term = pet_id
            if key == "owner_booking_id":
                try:
                    term = str(uuid.UUID(term))
                except ValueError:
                    raise ma.ValidationError(f"owner_booking_id {term!r} is not a booking "
                                             "id.") from None
            found.setdefault(key, []).append(term)
        return found


class BookingListQuerySchema(ma.Schema):
    search = SearchField(validate=validate.Length(max=2000), metadata={
        "description": "`key:value` pairs separated by `;`, keys "
                       + ", ".join(f"`{k}`" for k in SEARCH_KEYS),
        "example": "state:confirmed;graph:instant"})
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_PER_PAGE),
                           load_default=DEFAULT_PER_PAGE,
                           metadata={"description": "bookings per page"})
    page = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), load_default=1)


class GroupListQuerySchema(BookingListQuerySchema):
    search = SearchField(GROUP_SEARCH_KEYS, validate=validate.Length(max=2000), metadata={
        "description": "`resource_id:<pet id>` (given twice: either pet)",
        "example": "resource_id:1"})


class DiagramQuerySchema(ma.Schema):
    format = fields.String(validate=validate.OneOf(FORMATS), load_default="png")


# --- responses ---------------------------------------------------------------------------
# Each schema dumps the domain's objects (a BookingView, a Graph) directly: no dict builders.

class Itself(fields.Nested):
    """A nested object drawn from the same object: Timekit nests what we store flat
    (``attributes.event_info.start`` is the booking's ``starts_at``)."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return obj


class ItselfInAList(Itself):
    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return [obj]


class EventInfoSchema(ma.Schema):
    start = fields.DateTime(attribute="starts_at")
    end = fields.DateTime(attribute="ends_at")
    what = fields.String()
    where = fields.String(attribute="location", allow_none=True)
    description = fields.String(allow_none=True)


class GroupBookingSchema(ma.Schema):
    max_seats = fields.Integer()
    current_seats = fields.Integer(metadata={
        "description": "seats holding a place (tentative, confirmed or paid)"})


class AttributesSchema(ma.Schema):
    event_info = Itself(EventInfoSchema)
    group_booking = fields.Nested(GroupBookingSchema, metadata={
        "description": "a class's places (graph `group_owner` only)"})

    @ma.post_dump
    def only_for_classes(self, data, **kwargs):
        if data.get("group_booking") is None:
            data.pop("group_booking", None)
        return data


class RelatedOutSchema(ma.Schema):
    owner_booking_id = fields.UUID(metadata={"description": "the seat's class"})


class CustomerOutSchema(ma.Schema):
    name = fields.String(attribute="customer_name")
    email = fields.String(attribute="customer_email")
    phone = fields.String(attribute="customer_phone", allow_none=True)
    timezone = fields.String(attribute="customer_timezone", allow_none=True)


class TransitionRecordSchema(ma.Schema):
    from_state = fields.String(data_key="from")
    to_state = fields.String(data_key="to")
    action = fields.String()
    actor = fields.Function(
        lambda record: (SYSTEM if record.actor_kind == SYSTEM
                        else record.actor.username if record.actor else None),
        metadata={"type": "string", "nullable": True,
                  "description": "username of who applied it, `system` for an automatic "
                                 "transition (null once that account is deleted)"})
    message = fields.String(allow_none=True)
    created_at = fields.DateTime()


class BookingSchema(ma.Schema):
    """A booking as one caller sees it (dumps a ``BookingView``)."""

    id = fields.UUID()
    graph = fields.String()
    state = fields.String()
    completed = fields.Boolean(metadata={"description": "whether the state is final"})
    available_actions = fields.List(fields.String(), metadata={
        "description": "actions the current state allows *and the caller may apply*"})
    resource_id = Int64()
    payment_id = fields.String(allow_none=True, metadata={
        "description": "the reference given with `pay` (instant_payment), else null"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    attributes = Itself(AttributesSchema)
    customers = ItselfInAList(CustomerOutSchema, many=True)
    transitions = fields.List(fields.Nested(TransitionRecordSchema),
                              metadata={"description": "every applied action, oldest first"})
    related = fields.Nested(RelatedOutSchema, metadata={
        "description": "a seat's class (seat graphs only)"})
    payment_id = fields.String(metadata={"description": "given with `pay` (once paid)"})

    @ma.post_dump
    def only_when_set(self, data, **kwargs):
        for name in ("related", "payment_id"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class BookingEnvelopeSchema(ma.Schema):
    data = Itself(BookingSchema)


class BookingPageSchema(ListPageSchema):
    """Timekit's list shape; dumps a ``BookingPage``."""

    data = fields.List(fields.Nested(BookingSchema), attribute="views")


class AutoSchema(ma.Schema):
    after = fields.String(metadata={"description": "`entered` (the state) or `end` (of the "
                                                   "booking)"})
    delay = fields.String(metadata={"example": "5 minutes"})


class ClassSchema(BookingSchema):
    """A class as anyone signed in sees it in the list of classes: no customer details, no
    history (they are its owner's)."""

    class Meta:
        exclude = ("customers", "transitions")


class GroupPageSchema(BookingPageSchema):
    """The live classes, in Timekit's list shape (dumps a ``BookingPage``)."""

    data = fields.List(fields.Nested(ClassSchema), attribute="views")


class GraphTransitionSchema(ma.Schema):
    action = fields.String()
    from_ = fields.String(data_key="from", attribute="source")
    to = fields.String(attribute="target")
    actor = fields.String(metadata={"description": "booker, owner, booker_or_owner or system"})
    auto = fields.Nested(AutoSchema, metadata={
        "description": "present when the service applies this transition by itself, `delay` "
                       "after the booking entered the state or after its end"})
    requires = fields.List(fields.String(), metadata={
        "description": "details the action's body must give, e.g. `payment_id`"})

    @ma.post_dump
    def drop_empty(self, data, **kwargs):
        if data.get("auto") is None:
            data.pop("auto", None)
        if not data.get("requires"):
            data.pop("requires", None)
        return data


class NotifySchema(ma.Schema):
    on = fields.String(metadata={"description": "the state whose entry notifies"})
    email = fields.List(fields.String(), metadata={"description": "owner and/or customer"})
    email_template = fields.String(attribute="template", allow_none=True)
    class_cancelled_template = fields.String(attribute="cascaded_template", allow_none=True,
                                             metadata={"description": (
                                                 "the email instead, when the booking's class "
                                                 "was cancelled")})
    webhook = fields.Boolean(metadata={"description": "whether subscribed webhooks fire"})
    not_to_actor = fields.Boolean(metadata={
        "description": "the side that applied the action is not emailed"})

    @ma.post_dump
    def _only_when_set(self, data, **kwargs):
        if data.get("class_cancelled_template") is None:
            data.pop("class_cancelled_template", None)
        return data


class NotificationsOfGraph(fields.List):
    """The graph's rules in ``notifications.py``, kept beside the graph, not inside it."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return NOTIFICATIONS.get(obj.name, ())


class GraphSchema(ma.Schema):
    """A graph's definition (dumps a ``Graph``)."""

    name = fields.String()
    description = fields.String()
    initial_state = fields.String()
    entry_action = fields.String()
    states = fields.List(fields.String())
    final_states = fields.List(fields.String(), attribute="ordered_final_states")
    actions = fields.List(fields.String())
    transitions = fields.List(fields.Nested(GraphTransitionSchema))
    notifications = NotificationsOfGraph(fields.Nested(NotifySchema), metadata={
        "description": "which states notify whom (emails and webhooks); a state without a "
                       "rule fires the webhooks subscribed to it"})


class GraphEnvelopeSchema(ma.Schema):
    data = Itself(GraphSchema)


class GraphListSchema(ma.Schema):
    data = fields.List(fields.Nested(GraphSchema))
