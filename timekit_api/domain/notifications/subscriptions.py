"""Webhook subscriptions and their delivery log: the webhooks API's domain (contract section 8).

A webhook belongs to the user who created it; everyone else gets 404 (its existence must not
leak). Its URL is checked by ``urlguard`` when saved (and again at every delivery).
"""

from __future__ import annotations

import dataclasses
import math
import uuid

import sqlalchemy as sa

from ...database import db, utcnow
from ...database.models import Delivery, Webhook
from ..errors import DeliveryNotFound, InvalidWebhookUrl, WebhookNotFound
from . import outbox
from .signing import generate_secret
from .urlguard import UnsafeUrl, validate_url


@dataclasses.dataclass
class DeliveryPage:
    total: int
    per_page: int
    current_page: int
    last_page: int
    first: int | None
    last: int | None
    items: list[Delivery]
    next_page_url: str | None = None
    prev_page_url: str | None = None


def _checked_url(url: str, allow_private: bool) -> str:
    try:
        return validate_url(url, allow_private=allow_private)
    except UnsafeUrl as error:
        raise InvalidWebhookUrl(str(error), errors={"url": [str(error)]}) from None


def _commit(work):
    try:
        result = work()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def create_webhook(data: dict, user_id: int, *, allow_private: bool) -> Webhook:
    """A new active webhook; its ``secret`` is the one time the caller sees it."""
    url = _checked_url(data["url"], allow_private)
    now = utcnow()
    hook = Webhook(id=str(uuid.uuid4()), user_id=user_id, url=url, graphs=data["graphs"],
                   states=data["states"], secret=data.get("secret") or generate_secret(),
                   active=True, created_at=now, updated_at=now)

    def work():
        db.session.add(hook)
        return hook

    return _commit(work)


def list_webhooks(user_id: int) -> list[Webhook]:
    return list(db.session.scalars(sa.select(Webhook).where(Webhook.user_id == user_id)
                                   .order_by(Webhook.created_at, Webhook.id)))


def get_webhook(webhook_id, user_id: int) -> Webhook:
    hook = db.session.scalar(sa.select(Webhook).where(Webhook.id == str(webhook_id),
                                                      Webhook.user_id == user_id))
    if hook is None:
        raise WebhookNotFound("Webhook not found")
    return hook


def update_webhook(webhook_id, user_id: int, data: dict, *, allow_private: bool) -> Webhook:
    def work():
        hook = get_webhook(webhook_id, user_id)
        if "url" in data:
            hook.url = _checked_url(data["url"], allow_private)
        for name in ("graphs", "states", "active"):
            if name in data:
                setattr(hook, name, data[name])
        hook.updated_at = utcnow()
        return hook

    return _commit(work)


def delete_webhook(webhook_id, user_id: int) -> None:
    """The webhook and its delivery log go; pending deliveries to it are never sent."""
    _commit(lambda: db.session.delete(get_webhook(webhook_id, user_id)))


def ping(webhook_id, user_id: int) -> Delivery:
    """Queue a signed ``ping`` request to the webhook (the delivery process sends it)."""

    def work():
        hook = get_webhook(webhook_id, user_id)
        now = utcnow()
        template = Delivery(channel=outbox.WEBHOOK, webhook_id=hook.id, booking_id=None,
                            user_id=user_id, event=outbox.PING_EVENT, recipient=None,
                            template=None, payload=None)
        body = outbox.dump_json({"event": outbox.PING_EVENT, "webhook_id": hook.id,
                                 "created_at": now.isoformat()})
        delivery = outbox.enqueue_copy(template, now, payload=body)
        db.session.flush()
        return delivery

    return _commit(work)


def list_deliveries(webhook_id, user_id: int, limit: int, page: int) -> DeliveryPage:
    hook = get_webhook(webhook_id, user_id)
    query = sa.select(Delivery).where(Delivery.webhook_id == hook.id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    items = list(db.session.scalars(query.order_by(Delivery.id.desc())
                                    .limit(limit).offset((page - 1) * limit)))
    first = (page - 1) * limit + 1
    return DeliveryPage(total=total, per_page=limit, current_page=page,
                        last_page=max(1, math.ceil(total / limit)),
                        first=first if items else None,
                        last=first + len(items) - 1 if items else None, items=items)


def redeliver(webhook_id, delivery_id: int, user_id: int) -> Delivery:
    """Queue the same request again as a new delivery (the log keeps the old one)."""

    def work():
        hook = get_webhook(webhook_id, user_id)
        original = db.session.scalar(sa.select(Delivery).where(
            Delivery.id == delivery_id, Delivery.webhook_id == hook.id))
        if original is None:
            raise DeliveryNotFound("Delivery not found")
        copy = outbox.enqueue_copy(original, utcnow())
        db.session.flush()
        return copy

    return _commit(work)
