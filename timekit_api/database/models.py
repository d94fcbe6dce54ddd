"""SQLAlchemy models: the normalised store, plus each pet's cached JSON document.

Pets are read far more often than written, so every write (``domain/pets.py``) refreshes
``Pet.document``, the pet's wire JSON, inside the same transaction. Reads of one pet or of
a list then cost one query and no serialisation (benchmarks/PROFILE.md).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import BigId, UTCDateTime, db, utcnow


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    first_name: Mapped[str | None] = mapped_column(sa.String(255))
    last_name: Mapped[str | None] = mapped_column(sa.String(255))
    phone: Mapped[str | None] = mapped_column(sa.String(64))
    user_status: Mapped[int | None] = mapped_column(sa.Integer)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(db.Model):
    """An issued credential. Only its SHA-256 digest is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # login, auth, api, oauth
    # Space-separated OAuth2 scopes; NULL means a full-access token.
    scopes: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(db.Model):
    """Failed-login counter for one account, shared by every instance."""

    __tablename__ = "login_throttle"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255), unique=True)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255), unique=True)


class PetTag(db.Model):
    __tablename__ = "pet_tags"

    pet_id: Mapped[int] = mapped_column(sa.ForeignKey("pets.id", ondelete="CASCADE"),
                                        primary_key=True)
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("tags.id", ondelete="CASCADE"),
                                        primary_key=True, index=True)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)

    tag: Mapped[Tag] = relationship(lazy="joined")


class Pet(db.Model):
    __tablename__ = "pets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("categories.id", ondelete="SET NULL"))
    photo_urls: Mapped[list] = mapped_column(sa.JSON, default=list)
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The wire JSON of this pet, refreshed by every write (see module docstring).
    document: Mapped[str] = mapped_column(sa.Text, default="")
    # Bumped by every booking write: the row lock that serialises bookings per pet.
    booking_version: Mapped[int] = mapped_column(sa.Integer, default=0)

    category: Mapped[Category | None] = relationship(lazy="joined")
    pet_tags: Mapped[list[PetTag]] = relationship(
        order_by=PetTag.position, cascade="all, delete-orphan", lazy="selectin")

    @property
    def tags(self) -> list[Tag]:
        return [pet_tag.tag for pet_tag in self.pet_tags]


class PetImage(db.Model):
    """Uploaded image bytes live in the database so every instance can serve them."""

    __tablename__ = "pet_images"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pet_id: Mapped[int] = mapped_column(sa.ForeignKey("pets.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.Integer)
    additional_metadata: Mapped[str | None] = mapped_column(sa.String(1024))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key: an order keeps the petId it was placed for after the pet is gone.
    pet_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    quantity: Mapped[int] = mapped_column(sa.Integer, default=1)
    ship_date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), default="placed")
    complete: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)


# --- the booking engine (contract section 5) -----------------------------------------------
# Graphs, states and actions are validated by domain/booking/graphs.py;;
# these tables only store a booking and its history.


class BookingTransition(db.Model):
    """One applied action: the booking's history, read back with the booking."""

    __tablename__ = "booking_transitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    booking_id: Mapped[str] = mapped_column(
        sa.ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(sa.String(64))
    to_state: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    # The user who applied the action; kept (as NULL) when that account is deleted.
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    message: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Booking(db.Model):
    """A pet (the resource) booked over ``[starts_at, ends_at)``, following a graph."""

    __tablename__ = "bookings"
    # The overlap check asks for the live bookings of one pet around a window.
    __table_args__ = (sa.Index("ix_bookings_resource_state_start",
                               "resource_id", "state", "starts_at"),
                      # A class's seats are counted by state on every seat request.
                      sa.Index("ix_bookings_owner_booking_state",
                               "owner_booking_id", "state"))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # a UUID, as text
    graph: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(64))
    resource_id: Mapped[int] = mapped_column(sa.ForeignKey("pets.id", ondelete="CASCADE"))
    # Who made the booking; a deleted account leaves the booking to the pet's owner.
    booker_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    what: Mapped[str] = mapped_column(sa.String(255))
    location: Mapped[str | None] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    customer_name: Mapped[str] = mapped_column(sa.String(255))
    customer_email: Mapped[str] = mapped_column(sa.String(254))
    customer_phone: Mapped[str | None] = mapped_column(sa.String(64))
    customer_timezone: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A class (group_owner): its places and the customers' cancellation deadline ("1 day").
    max_seats: Mapped[int | None] = mapped_column(sa.Integer)
    min_cancel_time: Mapped[str | None] = mapped_column(sa.String(32))
    # Bumped by every seat write: the row lock that serialises a class's seats.
    seat_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # A seat: its class. A deleted class leaves its (final) seats to their bookers.
    owner_booking_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("bookings.id", ondelete="SET NULL"))
    # The payment reference given with `pay` (the same column as issue 13's 0006).
    payment_id: Mapped[str | None] = mapped_column(sa.String(255))

    transitions: Mapped[list[BookingTransition]] = relationship(
        order_by=BookingTransition.id, cascade="all, delete-orphan", passive_deletes=True,
        lazy="selectin")


class CatalogVersion(db.Model):
    """One row whose number grows with every write to a pet (see ``catalog.py``): the
    cheap question "has any pet changed?" that lets each process reuse its pet lists.
    ``epoch`` is random per database, so a recreated database never matches old answers."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(sa.String(32))
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
