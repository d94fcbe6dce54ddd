"""SQLAlchemy models: what the service stores, once.

Each pet is one row (its category and tags are JSON values in it); what is derived from
pets (the tag-name index, the catalog version) is maintained by database triggers
(``triggers.py``), so no write path can leave them behind.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import BigId, UTCDateTime, db, triggers, utcnow


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    # The sign-in keys (domain/accounts.login_key of username and email), unique, so that
    # "USER1" and "user1" can never be two accounts.
    username_key: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    email_key: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
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
    # Tokens issued together (POST /auth's token and api_token) share it: they end together.
    pair_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Credential(db.Model):
    """A long-lived API key (Timekit's app key). Only its SHA-256 digest is kept."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Space-separated scopes; NULL means no scope limits.
    scopes: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # NULL: never
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class IdempotencyRecord(db.Model):
    """One ``Idempotency-Key`` claimed by one caller, and the answer once there is one."""

    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("caller", "key",
                                          name="uq_idempotency_records_caller_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    caller: Mapped[str] = mapped_column(sa.String(80))  # "user:<id>" or "address:<ip>"
    key: Mapped[str] = mapped_column(sa.String(255))
    request: Mapped[str] = mapped_column(sa.String(2100))  # method and path
    body_digest: Mapped[str] = mapped_column(sa.String(64))
    # Random per claim: whoever holds it may store the answer (see domain/idempotency.py).
    claim: Mapped[str] = mapped_column(sa.String(32))
    completed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[int | None] = mapped_column(sa.Integer)
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    headers: Mapped[str | None] = mapped_column(sa.Text)  # JSON object
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LoginThrottle(db.Model):
    """Failed-login counter for one account, shared by every instance."""

    __tablename__ = "login_throttle"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AddressThrottle(db.Model):
    """Failed sign-ins from one client address in the current hour, shared by every instance."""

    __tablename__ = "address_throttle"

    address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)


class Pet(db.Model):
    """A pet as its client sent it: ``category`` and ``tags`` are JSON values stored exactly
    as received (no shared rows), so no pet's write can change another pet. The wire JSON is
    rendered from these columns by the database when read (``domain/pets.py``): there is no
    second copy to keep in step."""

    __tablename__ = "pets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    category: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    photo_urls: Mapped[list] = mapped_column(sa.JSON, default=list)
    tags: Mapped[list | None] = mapped_column(sa.JSON(none_as_null=True))
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Bumped by every booking write: the row lock that serialises bookings per pet.
    booking_version: Mapped[int] = mapped_column(sa.Integer, default=0)


class PetTagName(db.Model):
    """The tag names of each pet, for ``findByTags``. Written only by database triggers on
    ``pets`` (``triggers.py``), so it follows every write, whatever path it takes."""

    __tablename__ = "pet_tag_names"

    pet_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True, index=True)


class IdCounter(db.Model):
    """The next server-assigned id of a table on SQLite (PostgreSQL uses its sequences):
    SQLite's own ``max(id) + 1`` would follow a client's ``"id": 2**62`` and reuse the ids
    of deleted rows (``ids.py``)."""

    __tablename__ = "id_counters"

    table_name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)


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
    # "system" for a transition the service made by itself (an automatic one), else NULL.
    actor_kind: Mapped[str | None] = mapped_column(sa.String(16))
    message: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Booking(db.Model):
    """A pet (the resource) booked over ``[starts_at, ends_at)``, following a graph."""

    __tablename__ = "bookings"
    # The overlap check asks for the live bookings of one pet around a window.
    __table_args__ = (sa.Index("ix_bookings_resource_state_start",
                               "resource_id", "state", "starts_at"),
                      # Lists are read in start order, per booker and per pet.
                      sa.Index("ix_bookings_booker_start", "booker_id", "starts_at", "id"),
                      # "Made by them and of their pets" is counted from this index alone.
                      sa.Index("ix_bookings_booker_owner", "booker_id", "owner_id"),
                      sa.Index("ix_bookings_resource_start", "resource_id", "starts_at", "id"),
                      sa.Index("ix_bookings_owner_start", "owner_id", "starts_at", "id"),
                      # A class's seats are counted by state on every seat request.
                      sa.Index("ix_bookings_owner_booking_state",
                               "owner_booking_id", "state"))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # a UUID, as text
    graph: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(64))
    resource_id: Mapped[int] = mapped_column(sa.ForeignKey("pets.id", ondelete="CASCADE"))
    # Who made the booking; a deleted account leaves the booking to the pet's owner.
    booker_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The booked pet's owner, copied and kept by database triggers (``triggers.py``): never
    # written by the application, read by the lists' visibility rule through its index.
    owner_id: Mapped[int | None] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        server_default=sa.FetchedValue(), server_onupdate=sa.FetchedValue())
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
    # The pending automatic transition: its target state and when it is due (NULL: none).
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    due_state: Mapped[str | None] = mapped_column(sa.String(64))
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


class ResourceSettings(db.Model):
    """How a pet may be booked by others (contract section 6). One row per pet, written the
    first time its owner changes a setting; a pet without a row has the defaults
    (``domain/resources.py``). Durations are stored as Timekit's text ("2 hours")."""

    __tablename__ = "resource_settings"

    pet_id: Mapped[int] = mapped_column(sa.ForeignKey("pets.id", ondelete="CASCADE"),
                                        primary_key=True)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    graphs: Mapped[list] = mapped_column(sa.JSON)
    availability_constraints: Mapped[list] = mapped_column(sa.JSON)
    min_booking_notice: Mapped[str] = mapped_column(sa.String(32))
    max_booking_horizon: Mapped[str] = mapped_column(sa.String(32))
    max_booking_length: Mapped[str] = mapped_column(sa.String(32))
    buffer: Mapped[str] = mapped_column(sa.String(32))
    max_live_bookings_per_booker: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogVersion(db.Model):
    """One row whose number grows with every write to a pet (a database trigger,
    ``triggers.py``; read by ``domain/catalog.py``): the
    cheap question "has any pet changed?" that lets each process reuse its pet lists.
    ``epoch`` is random per database, so a recreated database never matches old answers."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(sa.String(32))
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# --- notifications (contract section 8) ------------------------------------------------------
# The outbox: ``deliveries`` rows are written in the same transaction as the booking transition
# that causes them (domain/notifications/outbox.py) and sent after commit by a delivery process.


class Webhook(db.Model):
    """A user's subscription to the states their bookings enter. ``secret`` signs every
    request; it must stay readable to sign, so it is stored as given and shown only once."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # a UUID, as text
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    graphs: Mapped[list] = mapped_column(sa.JSON)   # ["*"] or graph names
    states: Mapped[list] = mapped_column(sa.JSON)   # ["*"] or state names
    secret: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(db.Model):
    """One webhook request or email to send, and what happened to it (the delivery log).

    ``id`` grows with every insert, and the transitions of one booking are serialised by the
    per-pet lock, so ``id`` order is transition order per booking. ``booking_id`` has no
    foreign key: the log outlives a deleted booking. ``locked_until`` is the lease of the
    process that claimed the row; a crash leaves it to expire and the row is sent again."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # The claim's question: due pending rows, and "an earlier row of this booking is
        # still pending" for the order per booking.
        sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        sa.Index("ix_deliveries_booking_id", "booking_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))  # webhook | email
    webhook_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[str | None] = mapped_column(sa.String(36))
    # The user whose view of the booking the payload is (webhook owner or email recipient).
    user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    event: Mapped[str] = mapped_column(sa.String(80))          # booking.<state> | ping
    recipient: Mapped[str | None] = mapped_column(sa.String(16))  # owner | customer (emails)
    template: Mapped[str | None] = mapped_column(sa.String(64))  # email kind
    payload: Mapped[str | None] = mapped_column(sa.Text)       # the exact JSON body
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.String(1000))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ActionLink(db.Model):
    """The nonce of one emailed set of action links; using a link consumes it (single use)."""

    __tablename__ = "action_links"

    nonce: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    booking_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ServiceSecret(db.Model):
    """Secrets the service generates for itself on first use (e.g. the action-link key) when
    none is configured, shared by every process through the database."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BookingListVersion(db.Model):
    """One row whose number grows with every write to a booking or its history (database
    triggers, ``triggers.py``; read by ``domain/booking/list_pages.py``): the cheap
    question "has any booking changed?" that lets each process reuse rendered list pages.
    The catalog's ``epoch`` tells databases apart."""

    __tablename__ = "booking_list_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ServiceClock(db.Model):
    """One row: how far the service's clock is ahead of real time (the testing clock),
    shared by every instance on the database."""

    __tablename__ = "service_clock"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    offset_microseconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)


triggers.PET_TRIGGERS.install(Pet.__table__)
triggers.BOOKING_OWNER_TRIGGERS.install(Booking.__table__)
# Once every table exists: they are on two tables and update a third.
triggers.BOOKING_LIST_TRIGGERS.install(db.metadata)
