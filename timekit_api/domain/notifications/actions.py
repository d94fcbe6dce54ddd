"""What emails link to: the signed single-use action links, and the booking as a calendar file.

The link key is ``ACTION_LINK_SECRET`` when configured; otherwise a random key generated on
first use and stored in ``service_secrets``, so every process and restart shares it and no
fixed default ever signs a link.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ...database import db, utcnow
from ...database.models import ActionLink, Booking, Pet, ServiceSecret
from ..booking import engine
from ..booking.schemas import BookingSchema
from ..errors import ActionLinkUsed, BookingNotFound, InvalidActionLink
from . import links, outbox

ACTION_LINK_SECRET_NAME = "action_link_secret"
_generated: dict[str, str] = {}  # per database URL: the stored key, read once per process


def link_secret(configured: str) -> str:
    """The key that signs action links (see the module docstring)."""
    if configured:
        return configured
    cache_key = str(db.engine.url)
    if cache_key not in _generated:
        _generated[cache_key] = _stored_secret(ACTION_LINK_SECRET_NAME)
    return _generated[cache_key]


def _stored_secret(name: str) -> str:
    value = db.session.scalar(sa.select(ServiceSecret.value).where(ServiceSecret.name == name))
    if value is None:
        try:
            db.session.add(ServiceSecret(name=name, value=secrets.token_urlsafe(48),
                                         created_at=utcnow()))
            db.session.commit()
        except IntegrityError:  # another process stored one first: use theirs
            db.session.rollback()
        value = db.session.scalar(sa.select(ServiceSecret.value)
                                  .where(ServiceSecret.name == name))
    db.session.rollback()
    return value


def apply_link(booking_id, action: str, token: str, *, secret: str,
               max_age_seconds: float) -> engine.BookingView:
    """Apply ``action`` as the pet's owner, once: InvalidActionLink (altered, for another
    booking or action, expired), ActionLinkUsed, or the engine's errors.

    The nonce is consumed in the same transaction as the action: if the action fails (say the
    booking was cancelled meanwhile) the link stays unused, and two clicks at once apply it once.
    """
    try:
        _, _, nonce = links.read_action_token(secret, token, max_age_seconds,
                                              booking_id=str(booking_id), action=action)
    except links.InvalidLink as error:
        raise InvalidActionLink(str(error)) from None
    owner_id = db.session.scalar(sa.select(Pet.owner_id).join(Booking, Booking.resource_id
                                                             == Pet.id)
                                 .where(Booking.id == str(booking_id)))
    if owner_id is None:
        raise BookingNotFound("Booking not found")
    consumed = db.session.execute(
        sa.update(ActionLink.__table__)
        .where(ActionLink.__table__.c.nonce == nonce,
               ActionLink.__table__.c.booking_id == str(booking_id),
               ActionLink.__table__.c.used_at.is_(None))
        .values(used_at=utcnow()))
    if consumed.rowcount != 1:
        db.session.rollback()
        raise ActionLinkUsed("This link has already been used")
    return engine.apply_action(booking_id, action, owner_id)  # commits both, or neither


def calendar_file(booking_id, viewer_id: int, site_name: str) -> bytes:
    """``GET /v2/bookings/{id}/calendar.ics``: for the booker and the pet's owner only."""
    view = engine.get_booking(booking_id, viewer_id)
    return outbox.calendar_bytes(BookingSchema().dump(view), site_name)
