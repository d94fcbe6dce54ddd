"""Wire formats of the webhooks API and its delivery log (contract section 8)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..booking.graphs import GRAPHS
from ..booking.schemas import DEFAULT_PER_PAGE, MAX_PER_PAGE, Itself, all_states
from ..schemas import ListPageSchema
from .urlguard import MAX_URL_LENGTH

ANY = "*"


def _one_of(known, what: str):
    def check(values: list) -> None:
        unknown = [v for v in values if v != ANY and v not in known()]
        if unknown:
            raise ma.ValidationError(f"Unknown {what}: {', '.join(map(str, unknown))}.")
        if not values:
            raise ma.ValidationError(f'Give at least one {what}, or "*" for every one.')
    return check


def _names(what: str, known, **kwargs):
    return fields.List(fields.String(validate=validate.Length(max=64)),
                       validate=[validate.Length(max=100), _one_of(known, what)],
                       metadata={"description": f'`["*"]` (every {what}) or names',
                                 "example": ["*"]}, **kwargs)


class WebhookCreateSchema(ma.Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=MAX_URL_LENGTH),
                        metadata={"example": "https://example.com/hooks/timekit"})
    graphs = _names("graph", lambda: GRAPHS, load_default=lambda: [ANY])
    states = _names("state", all_states, load_default=lambda: [ANY])
    secret = fields.String(validate=validate.Length(min=16, max=255), metadata={
        "description": "signs every request; generated when not given, shown only now"})


class WebhookUpdateSchema(ma.Schema):
    url = fields.String(validate=validate.Length(min=1, max=MAX_URL_LENGTH))
    graphs = _names("graph", lambda: GRAPHS)
    states = _names("state", all_states)
    active = fields.Boolean(metadata={"description": "true re-activates a webhook that a "
                                                     "410 Gone deactivated"})


class WebhookSchema(ma.Schema):
    id = fields.UUID()
    url = fields.String()
    graphs = fields.List(fields.String())
    states = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "shown once, at creation"})


class WebhookEnvelopeSchema(ma.Schema):
    data = Itself(WebhookSchema)


class WebhookCreatedEnvelopeSchema(ma.Schema):
    data = Itself(WebhookCreatedSchema)


class WebhookListSchema(ma.Schema):
    data = fields.List(fields.Nested(WebhookSchema))


class DeliverySchema(ma.Schema):
    id = fields.Integer()
    booking_id = fields.String(allow_none=True)
    event = fields.String(metadata={"example": "booking.confirmed"})
    status = fields.String(metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer()
    response_status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    next_attempt_at = fields.Function(
        lambda d: d.next_attempt_at.isoformat() if d.status == "pending" else None,
        metadata={"type": "string", "format": "date-time", "nullable": True,
                  "description": "when the next attempt is due (pending deliveries only)"})
    created_at = fields.DateTime()


class DeliveryEnvelopeSchema(ma.Schema):
    data = Itself(DeliverySchema)


class DeliveryListQuerySchema(ma.Schema):
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_PER_PAGE),
                           load_default=DEFAULT_PER_PAGE)
    page = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), load_default=1)


class DeliveryPageSchema(ListPageSchema):
    """Timekit's list shape, newest first."""

    data = fields.List(fields.Nested(DeliverySchema), attribute="items")


class ExternalActionQuerySchema(ma.Schema):
    signature = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                              metadata={"description": "the signed token of the email's link"})
