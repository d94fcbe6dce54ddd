"""The transactional outbox: notifications written with the transition, sent after commit.

Writing (``record_transition``, called by the booking engine's ``_apply``): in the transaction
that moves a booking, one multi-row INSERT into ``deliveries`` holds a row per matching webhook
and per email the graph's rules (``domain/booking/notifications.py``) ask for, each with its
exact payload (the booking as its recipient sees it at that moment). A rollback takes them away
with the transition; a commit makes both durable at once.

Sending (``deliver_pending``, run by a delivery process): rows are *claimed* first, in their own
committed transaction: the claim adds one to ``attempts`` and sets a lease (``locked_until``).
Only then does the network call happen, and its outcome is written with a guard on that attempt
number. A process killed between claim and outcome leaves the lease to expire, and the row is
claimed and sent again: at least once. On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``, so
several processes never claim one row twice; on SQLite the claim is one UPDATE under the single
write lock.

Order per booking: a row is not claimable while an earlier row of the same booking and the same
stream (the same webhook, or the booking's emails) is still pending (claimed included).
``id`` order is transition order per booking, because the transitions of one booking are
serialised by the per-pet lock and each inserts its rows while holding it.
"""

from __future__ import annotations

import json
import logging
import secrets
import smtplib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from jinja2 import TemplateError

from ...database import db
from ...database.models import ActionLink, Booking, Delivery, Pet, User, Webhook
from ..booking.notifications import CUSTOMER, OWNER, rules_for
from ..booking.schemas import BookingSchema
from . import emails, ics, links, webhooks

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
WEBHOOK, EMAIL = "webhook", "email"
PING_EVENT = "ping"
ANY = "*"
MAX_ERROR = 1000

_deliveries = Delivery.__table__


def event_name(state: str) -> str:
    return f"booking.{state}"


def dump_json(data) -> str:
    """The exact bytes sent and signed: compact, UTF-8."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def matches(selection: list, value: str) -> bool:
    return ANY in selection or value in selection


# --- writing, inside the transition's transaction ---------------------------------------------

def record_transition(booking: Booking, state: str, actor_id: int | None,
                      view_of: Callable, cascaded: bool = False) -> None:
    """Insert the outbox rows of ``booking`` having just entered ``state`` (``cascaded``:
    because its class was cancelled).

    ``view_of(owner_id, viewer_id)`` is the engine's ``BookingView``: the payload is the booking
    exactly as ``GET /v2/bookings/{id}`` shows it to each recipient.
    """
    rules = rules_for(booking.graph, state)
    owner_id = db.session.scalar(sa.select(Pet.owner_id).where(Pet.id == booking.resource_id))
    rows: list[dict] = []
    payloads: dict[int | None, str] = {}

    def payload(viewer_id: int | None) -> str:
        if viewer_id not in payloads:
            if not payloads:
                db.session.flush()  # the new transition's actor is read back for the payload
            payloads[viewer_id] = dump_json(BookingSchema().dump(view_of(owner_id, viewer_id)))
        return payloads[viewer_id]

    base = {"booking_id": booking.id, "event": event_name(state), "status": PENDING,
            "attempts": 0, "next_attempt_at": booking.updated_at,
            "created_at": booking.updated_at}
    if all(rule.webhook for rule in rules):  # a state without a rule fires webhooks too
        users = sorted({u for u in (booking.booker_id, owner_id) if u is not None})
        hooks = db.session.execute(
            sa.select(Webhook.id, Webhook.user_id, Webhook.graphs, Webhook.states)
            .where(Webhook.user_id.in_(users), Webhook.active)
            .order_by(Webhook.created_at, Webhook.id)).all()
        for hook in hooks:
            if matches(hook.graphs, booking.graph) and matches(hook.states, state):
                rows.append({**base, "channel": WEBHOOK, "webhook_id": hook.id,
                             "user_id": hook.user_id, "recipient": None, "template": None,
                             "payload": payload(hook.user_id)})
    for rule in rules:
        for side in rule.email:
            user_id = owner_id if side == OWNER else booking.booker_id
            if side == OWNER and owner_id is None:
                continue  # a pet without an owner has nobody to ask
            if rule.not_to_actor and actor_id is not None and user_id == actor_id:
                continue
            rows.append({**base, "channel": EMAIL, "webhook_id": None, "user_id": user_id,
                         "recipient": side, "template": rule.template_for(cascaded),
                         "payload": payload(user_id)})
    if rows:
        db.session.execute(sa.insert(_deliveries).values(rows))  # one statement


def enqueue_copy(delivery: Delivery, now: datetime, event: str | None = None,
                 payload: str | None = None) -> Delivery:
    """A new pending row like ``delivery`` (redeliver), or a ping; the caller commits."""
    copy = Delivery(channel=delivery.channel, webhook_id=delivery.webhook_id,
                    booking_id=delivery.booking_id, user_id=delivery.user_id,
                    event=event or delivery.event, recipient=delivery.recipient,
                    template=delivery.template,
                    payload=payload if payload is not None else delivery.payload,
                    status=PENDING, attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(copy)
    return copy


# --- sending, in a delivery process -----------------------------------------------------------

@dataclass(frozen=True)
class MailServer:
    host: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None = field(repr=False)
    sender: str


@dataclass(frozen=True)
class DeliverySettings:
    """What sending needs from the settings; ``from_config`` builds it from an app's."""

    allow_private: bool = False
    webhook_timeout: float = webhooks.DEFAULT_TIMEOUT
    lease: timedelta = timedelta(seconds=60)
    mail: MailServer | None = None
    public_url: str = "http://127.0.0.1:8080"
    api_prefix: str = "/v2"
    site_name: str = "Timekit API"
    link_secret: str = field(default="", repr=False)
    email_overrides: str | None = None
    concurrency: int = 8

    @classmethod
    def from_config(cls, config, instance_path: str | None = None,
                    link_secret: str = "") -> DeliverySettings:
        mail = None
        if config["MAIL_SERVER"]:
            mail = MailServer(config["MAIL_SERVER"], int(config["MAIL_PORT"]),
                              bool(config["MAIL_USE_TLS"]), config["MAIL_USERNAME"] or None,
                              config["MAIL_PASSWORD"] or None, config["MAIL_FROM"])
        return cls(allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"]),
                   webhook_timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
                   lease=timedelta(seconds=float(config["DELIVERY_LEASE_SECONDS"])),
                   mail=mail, public_url=config["PUBLIC_URL"],
                   api_prefix=config["API_PREFIX"], site_name=config["SERVICE_NAME"],
                   link_secret=link_secret, concurrency=int(config["DELIVERY_CONCURRENCY"]),
                   email_overrides=f"{instance_path}/emails" if instance_path else None)


@dataclass
class Counts:
    """What one ``deliver_pending`` call did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    lost_lease: int = 0


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | failed | skipped | pending (retry)
    response_status: int | None = None
    error: str | None = None
    gone: bool = False
    permanent: bool = False


def claim(now: datetime, limit: int, lease: timedelta) -> list[sa.Row]:
    """Claim up to ``limit`` due rows (see the module docstring) and commit the claim."""
    d = _deliveries
    earlier = d.alias("earlier")
    same_stream = sa.or_(earlier.c.webhook_id == d.c.webhook_id,
                         sa.and_(earlier.c.webhook_id.is_(None), d.c.webhook_id.is_(None)))
    waits_for_earlier = sa.exists().where(
        earlier.c.booking_id == d.c.booking_id, earlier.c.id < d.c.id,
        earlier.c.status == PENDING, same_stream)
    due = (sa.select(d.c.id)
           .where(d.c.status == PENDING, d.c.next_attempt_at <= now,
                  sa.or_(d.c.locked_until.is_(None), d.c.locked_until <= now),
                  ~waits_for_earlier)
           .order_by(d.c.id).limit(limit)
           .with_for_update(skip_locked=True))  # PostgreSQL; SQLite has one writer anyway
    try:
        rows = db.session.execute(
            sa.update(d).where(d.c.id.in_(due.scalar_subquery()))
            .values(attempts=d.c.attempts + 1, locked_until=now + lease)
            .returning(d.c.id, d.c.channel, d.c.webhook_id, d.c.booking_id, d.c.user_id,
                       d.c.event, d.c.recipient, d.c.template, d.c.payload,
                       d.c.attempts)).all()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return sorted(rows, key=lambda row: row.id)


def deliver_pending(now: datetime, limit: int, settings: DeliverySettings) -> Counts:
    """Claim the due notifications and send each once; returns what happened.

    Call it in a loop (``timekit_api/delivery.py``): it returns at once when nothing is due.
    """
    counts = Counts()
    while counts.claimed < limit:
        # Again after each round: a delivered row lets the next one of its booking go.
        rows = claim(now, limit - counts.claimed, settings.lease)
        if not rows:
            break
        counts.claimed += len(rows)
        _send(rows, now, settings, counts)
    return counts


def _send(rows, now: datetime, settings: DeliverySettings, counts: Counts) -> None:
    """Send one claimed batch. Its rows belong to different streams (the claim takes at most
    the first pending row of each), so the webhook requests go out concurrently without
    breaking the order per booking; emails (which read the database) go one by one."""
    hooks = {}
    webhook_ids = {row.webhook_id for row in rows if row.webhook_id}
    if webhook_ids:
        hooks = {hook.id: hook for hook in db.session.execute(
            sa.select(Webhook.id, Webhook.url, Webhook.secret, Webhook.active)
            .where(Webhook.id.in_(webhook_ids))).all()}
        db.session.rollback()  # end the read; nothing is held during the network calls
    webhook_rows = [row for row in rows if row.channel == WEBHOOK]
    outcomes: dict[int, Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool:
        for row, outcome in zip(webhook_rows, pool.map(
                lambda row: _send_webhook(row, hooks.get(row.webhook_id), settings),
                webhook_rows), strict=True):
            outcomes[row.id] = outcome
    for row in rows:
        if row.channel != WEBHOOK:
            outcomes[row.id] = _send_email(row, now, settings)
    _record(rows, outcomes, now, counts)


def _send_webhook(row, hook, settings: DeliverySettings) -> Outcome:
    if hook is None or not hook.active:
        return Outcome(FAILED, error="The webhook is inactive", permanent=True)
    result = webhooks.deliver(hook.url, hook.secret, (row.payload or "").encode(), row.event,
                              str(row.id), timeout=settings.webhook_timeout,
                              allow_private=settings.allow_private)
    if result.ok:
        return Outcome(DELIVERED, result.status_code)
    return Outcome(FAILED, result.status_code, result.error, gone=result.gone,
                   permanent=result.gone)


def _send_email(row, now: datetime, settings: DeliverySettings) -> Outcome:
    if settings.mail is None:
        return Outcome(SKIPPED, error="No mail server is configured")
    try:
        message = compose_email(row, now, settings)
    except (emails.UnknownEmail, TemplateError, ValueError, KeyError) as error:
        return Outcome(FAILED, error=f"Cannot compose the email: {error}", permanent=True)
    if message is None:
        return Outcome(FAILED, error="The recipient has no email address", permanent=True)
    mail = settings.mail
    try:
        emails.send_message(message, host=mail.host, port=mail.port, use_tls=mail.use_tls,
                            username=mail.username, password=mail.password,
                            timeout=settings.webhook_timeout)
    except (smtplib.SMTPException, OSError) as error:
        return Outcome(FAILED, error=f"{type(error).__name__}: {error}"[:MAX_ERROR])
    return Outcome(DELIVERED)


def _record(rows, outcomes: dict[int, Outcome], now: datetime, counts: Counts) -> None:
    """Write each attempt's outcome (one commit per batch), unless another process has
    claimed that row again since (its lease ran out): the attempt number guards it."""
    written = []
    try:
        for row in rows:
            outcome = outcomes[row.id]
            values: dict = {"locked_until": None, "response_status": outcome.response_status,
                            "error": outcome.error[:MAX_ERROR] if outcome.error else None}
            status = outcome.status
            if status == FAILED and not outcome.permanent:
                delay = webhooks.next_attempt_delay(row.attempts)
                if delay is not None:
                    status = PENDING
                    values["next_attempt_at"] = now + delay
            values["status"] = status
            if status in (DELIVERED, SKIPPED):
                values["delivered_at"] = now
            result = db.session.execute(
                sa.update(_deliveries)
                .where(_deliveries.c.id == row.id, _deliveries.c.attempts == row.attempts,
                       _deliveries.c.status == PENDING)
                .values(**values))
            if outcome.gone and row.webhook_id:
                db.session.execute(sa.update(Webhook.__table__)
                                   .where(Webhook.__table__.c.id == row.webhook_id)
                                   .values(active=False, updated_at=now))
            written.append((row, status, result.rowcount == 1))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for row, status, mine in written:
        if not mine:
            counts.lost_lease += 1
            log.warning("delivery %s: claimed again by another process before its outcome "
                        "was written", row.id)
        elif status == PENDING:
            counts.retrying += 1
        else:
            setattr(counts, status, getattr(counts, status) + 1)


# --- emails -----------------------------------------------------------------------------------

def action_link(settings: DeliverySettings, booking_id: str, action: str, nonce: str) -> str:
    token = links.make_action_token(settings.link_secret, booking_id, action, nonce)
    return (f"{settings.public_url.rstrip('/')}{settings.api_prefix}/bookings/{booking_id}"
            f"/external_action/{action}?signature={token}")


def calendar_bytes(booking: dict, site_name: str) -> bytes:
    """The booking as iCalendar; the sequence grows with each transition, so updates replace."""
    return ics.booking_calendar(booking, prodid=f"-//{site_name}//Bookings//EN",
                                sequence=len(booking.get("transitions") or []))


def compose_email(row, now: datetime, settings: DeliverySettings):
    """The message for an email row, or None when the recipient has no address.

    Action links get a fresh nonce, stored (and committed) before the email leaves, so the
    link works once whichever copy of an at-least-once email is used.
    """
    booking = json.loads(row.payload)
    customer = (booking.get("customers") or [{}])[0]
    if row.recipient == CUSTOMER:
        address, name = customer.get("email"), customer.get("name")
    else:
        user = db.session.get(User, row.user_id) if row.user_id is not None else None
        address = user.email if user else None
        name = (user.first_name or user.username) if user else None
        db.session.rollback()
    if not address:
        return None
    history = booking.get("transitions") or []
    context = {"booking": booking, "recipient_name": name or address,
               "site_name": settings.site_name,
               "message": history[-1].get("message") if history else None}
    link_keys = [key for key in emails.KINDS.get(row.template, ()) if key.endswith("_url")]
    if link_keys:
        nonce = secrets.token_urlsafe(24)
        db.session.add(ActionLink(nonce=nonce, booking_id=row.booking_id, created_at=now))
        db.session.commit()
        for key in link_keys:
            context[key] = action_link(settings, row.booking_id, key[: -len("_url")], nonce)
    subject, text, html = emails.render_email(row.template, context,
                                              override_dir=settings.email_overrides)
    attachments = []
    status = ics.calendar_status(booking.get("state", ""))
    if row.recipient == CUSTOMER and status != "TENTATIVE":  # confirmed, or its cancellation
        method = "CANCEL" if status == "CANCELLED" else "PUBLISH"
        attachments.append(("booking.ics", f"{ics.MIME_TYPE}; method={method}",
                            calendar_bytes(booking, settings.site_name)))
    return emails.build_message(settings.mail.sender, address, subject, text, html, attachments)
