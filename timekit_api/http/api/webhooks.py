"""Webhooks (contract section 8), filed under the Booking tag: a user's signed notifications of
their bookings' transitions, and the delivery log. The rules live in
``domain/notifications/subscriptions.py``; sending is the delivery process's
(``timekit_api/delivery.py``)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request
from flask.views import MethodView

from ...domain.notifications import schemas, subscriptions
from ...domain.tokens import ACCOUNT
from ..auth import current_user_id
from ..blueprint import Blueprint

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", tag="Booking")


def allow_private() -> bool:
    return bool(current_app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"])


@blp.route("")
class Webhooks(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.idempotent()
    @blp.arguments(schemas.WebhookCreateSchema, example={
        "url": "https://example.com/hooks/timekit", "graphs": ["*"],
        "states": ["confirmed", "cancelled"]})
    @blp.response(201, schemas.WebhookCreatedEnvelopeSchema,
                  description="the webhook, with its secret (shown this once)")
    @blp.fails_with(_400="Invalid body, or a URL that is not http(s) or reaches a non-public "
                         "address", _415="Body is not JSON")
    def post(self, data):
        """Create a webhook

        It fires for bookings of the caller's pets and bookings the caller made, when the
        booking enters a state in `states` (`["*"]`: every state) of a graph in `graphs`.
        Each request is a `POST` of the booking as `GET /bookings/{id}` gives its `data`,
        signed with `x-timekit-signature` (hex HMAC-SHA256 of the raw body with the secret)
        and `x-timekit-signature-v2` (`t=<unix>,v1=<hex HMAC of "<t>." + body>`).
        """
        return subscriptions.create_webhook(data, current_user_id(),
                                            allow_private=allow_private()), 201

    @blp.login_required(ACCOUNT)
    @blp.response(200, schemas.WebhookListSchema, description="the caller's webhooks")
    def get(self):
        """List your webhooks"""
        return {"data": subscriptions.list_webhooks(current_user_id())}


@blp.route("/<uuid:webhook_id>")
class WebhookById(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.response(200, schemas.WebhookEnvelopeSchema, description="the webhook")
    @blp.fails_with(_404="Webhook not found (also someone else's)")
    def get(self, webhook_id):
        """Get a webhook"""
        return subscriptions.get_webhook(webhook_id, current_user_id())

    @blp.login_required(ACCOUNT)
    @blp.arguments(schemas.WebhookUpdateSchema, example={"states": ["*"], "active": True})
    @blp.response(200, schemas.WebhookEnvelopeSchema, description="the webhook")
    @blp.fails_with(_400="Invalid body or URL", _404="Webhook not found",
                    _415="Body is not JSON")
    def put(self, data, webhook_id):
        """Change a webhook

        Fields not given keep their value; `active: true` re-activates a webhook that a
        `410 Gone` answer deactivated. The secret cannot be read or changed.
        """
        return subscriptions.update_webhook(webhook_id, current_user_id(), data,
                                            allow_private=allow_private())

    @blp.login_required(ACCOUNT)
    @blp.response(204, description="deleted")
    @blp.fails_with(_404="Webhook not found")
    def delete(self, webhook_id):
        """Delete a webhook and its delivery log"""
        subscriptions.delete_webhook(webhook_id, current_user_id())
        return "", 204


@blp.route("/<uuid:webhook_id>/ping")
class WebhookPing(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.response(202, schemas.DeliveryEnvelopeSchema, description="the queued delivery")
    @blp.fails_with(_404="Webhook not found")
    def post(self, webhook_id):
        """Ping a webhook

        Queues a signed request with event `ping`; its outcome shows in the delivery log.
        """
        return subscriptions.ping(webhook_id, current_user_id()), 202


@blp.route("/<uuid:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.arguments(schemas.DeliveryListQuerySchema, location="query")
    @blp.response(200, schemas.DeliveryPageSchema, description="one page, newest first")
    @blp.fails_with(_400="Invalid limit or page", _404="Webhook not found")
    def get(self, args, webhook_id):
        """List a webhook's deliveries

        `status` is `pending` (waiting, or retried later with exponential backoff: about
        10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h), `delivered` (a 2xx within the timeout)
        or `failed` (the schedule ran out, or the receiver answered 410 Gone, which also
        deactivates the webhook).
        """
        limit, page = args["limit"], args["page"]
        result = subscriptions.list_deliveries(webhook_id, current_user_id(), limit, page)
        if page < result.last_page:
            result.next_page_url = page_url(page + 1, limit)
        if page > 1:
            result.prev_page_url = page_url(min(page - 1, result.last_page), limit)
        return result


def page_url(page: int, limit: int) -> str:
    return f"{request.script_root}{request.path}?{urlencode({'limit': limit, 'page': page})}"


@blp.route("/<uuid:webhook_id>/deliveries/<id:delivery_id>/redeliver")
class WebhookRedeliver(MethodView):
    @blp.login_required(ACCOUNT)
    @blp.response(202, schemas.DeliveryEnvelopeSchema, description="the new, queued delivery")
    @blp.fails_with(_404="Webhook or delivery not found")
    def post(self, webhook_id, delivery_id):
        """Redeliver a delivery

        Queues the same body again as a new delivery (with a new `x-timekit-delivery` id).
        """
        return subscriptions.redeliver(webhook_id, delivery_id, current_user_id()), 202
