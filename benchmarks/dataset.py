"""A generated data set in an SQLite file, written fast through SQLAlchemy Core.

Pets get a category and two tags each (values in the pet's row; the database's triggers
fill the tag-name index), a third of them in each status, so the rows are exactly what the
service itself would have written (``check_documents``). One user owns every pet and every
order; the benchmark signs in as that user with a pre-issued token.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

import orjson
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from timekit_api import create_app
from timekit_api.database import db
from timekit_api.database.migrate import upgrade_to_head
from timekit_api.database.models import (
    ApiToken,
    Booking,
    BookingTransition,
    Credential,
    Order,
    Pet,
    User,
)
from timekit_api.domain.accounts import Hashing, login_key
from timekit_api.domain.pets import pet_document
from timekit_api.domain.schemas import PET_STATUSES, PetSchema
from timekit_api.domain.tokens import digest

USERNAME = "bench"
PASSWORD = "bench-password"
TOKEN = "bench-token-0123456789abcdefghijklmnopqrstuvwxyz"
# An API key (POST /credentials) of the same user: live_api_key_ plus 40 characters.
API_KEY = "live_api_key_" + "0123456789abcdefghijABCDEFGHIJ0123456789"
CATEGORIES = 10
TAGS = 50
CHUNK = 5000
# Availability scenarios (issue 15): pet 1 has AVAILABILITY_BOOKINGS live bookings in the
# coming four weeks; pets 2..51 (MUTUAL_PETS of them) a few night-time bookings each in the
# coming week, so that `mutual` intersects 50 different busy sets and still finds days free.
AVAILABILITY_PET = 1
AVAILABILITY_BOOKINGS = 1000
MUTUAL_PETS = 50
MUTUAL_BOOKINGS_PER_PET = 5
# Classes (group_owner) on the first pets, each with SEATS_PER_CLASS confirmed seats and room
# for many more: the seat-creation benchmark counts seats in a class of 1,000.
CLASSES = 20
SEATS_PER_CLASS = 1000
CLASS_MAX_SEATS = 10000


def pet_fields(pet_id: int) -> dict:
    """Everything about pet ``pet_id`` follows from its id, so load scripts can rebuild it."""
    category = pet_id % CATEGORIES + 1
    first = pet_id % TAGS + 1
    second = (pet_id + 1) % TAGS + 1
    return {
        "id": pet_id,
        "name": f"pet {pet_id}",
        "status": PET_STATUSES[pet_id % 3],
        "category": {"id": category, "name": f"category{category}"},
        "photo_urls": [f"https://img.example.com/{pet_id}.jpg"],
        "tags": [{"id": first, "name": f"tag{first}"}, {"id": second, "name": f"tag{second}"}],
    }


BOOKINGS_FROM = dt.datetime(2090, 1, 1, tzinfo=dt.UTC)  # clear of create_booking's windows


def booking_rows(bookings: int, due: int, pets: int, users: int) -> tuple[list, list]:
    """``bookings`` bookings with one history row each: the first ``due`` are
    instant_payment payments that timed out long ago (due, not yet recorded), the others
    confirmed instant bookings, every booking an hour of its own. Booked by every user in
    turn (user 1, the benchmark's, owns the pets: it sees them all)."""
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows, history = [], []
    for n in range(bookings):
        start = BOOKINGS_FROM + dt.timedelta(hours=n)
        end = start + dt.timedelta(minutes=30)
        booking_id = f"00000000-0000-4000-8000-{n:012d}"
        paying = n < due
        rows.append({
            "id": booking_id, "graph": "instant_payment" if paying else "instant",
            "state": "tentative" if paying else "confirmed", "resource_id": n % pets + 1,
            "booker_id": n % users + 1, "starts_at": start, "ends_at": end,
            "what": "benchmark", "customer_name": "Bench", "customer_email": "b@example.com",
            "created_at": created, "updated_at": created,
            "due_at": created + dt.timedelta(minutes=5) if paying else end + dt.timedelta(
                hours=1),
            "due_state": "unpaid" if paying else "completed"})
        history.append({"booking_id": booking_id, "from_state": "initialized",
                        "to_state": rows[-1]["state"],
                        "action": "create" if paying else "confirm",
                        "actor_id": n % users + 1, "created_at": created})
    return rows, history


def build(database_url: str, pets: int, users: int = 100, orders: int = 10000,
          password_method: str = Hashing.method, bookings: int = 0, due: int = 0) -> dict:
    """Fill an empty database; returns what the load scripts need to know about it."""
    started = time.perf_counter()
    app = create_app({"DATABASE_URL": database_url, "AUTO_CREATE_SCHEMA": True})
    upgrade_to_head(app)
    far = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    with app.app_context():
        engine = db.engine
        # One hash shared by every generated user, made as the service makes them (slow on
        # purpose).
        password_hash = generate_password_hash(PASSWORD, method=password_method)
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            names = {n: USERNAME if n == 1 else f"user{n}" for n in range(1, users + 1)}
            conn.execute(sa.insert(User), [
                {"id": n, "username": name, "username_key": login_key(name),
                 "email": f"user{n}@example.com", "email_key": f"user{n}@example.com",
                 "first_name": f"First {n}", "last_name": f"Last {n}",
                 "password_hash": password_hash, "timezone": "UTC"}
                for n, name in names.items()])
            conn.execute(sa.insert(ApiToken), [{
                "digest": digest(TOKEN), "user_id": 1, "kind": "api", "scopes": None,
                "expires_at": far}])
            conn.execute(sa.insert(Credential), [{
                "digest": digest(API_KEY), "user_id": 1, "name": "benchmark", "scopes": None,
                "created_at": dt.datetime.now(dt.UTC), "expires_at": None}])
            for low in range(1, pets + 1, CHUNK):
                ids = range(low, min(low + CHUNK, pets + 1))
                conn.execute(sa.insert(Pet), [
                    {**pet_fields(pet_id), "owner_id": 1} for pet_id in ids])
            conn.execute(sa.insert(Booking), availability_bookings(pets))
            conn.execute(sa.insert(Order), [
                {"id": n, "pet_id": n % pets + 1, "quantity": 1, "status": "placed",
                 "complete": False, "owner_id": 1} for n in range(1, orders + 1)])
            if bookings:
                rows, history = booking_rows(bookings, due, pets, users)
                conn.execute(sa.insert(Booking), rows)
                conn.execute(sa.insert(BookingTransition), history)
            classes = add_classes(conn, min(CLASSES, pets), users)
        check_documents(pets)
        db.session.remove()
        engine.dispose()
    return {"pets": pets, "users": users, "orders": orders, "tags": TAGS, "bookings": bookings,
            "username": USERNAME, "password": PASSWORD, "token": TOKEN, "api_key": API_KEY,
            "availability_pet": AVAILABILITY_PET,
            "mutual_pets": list(range(2, 2 + min(MUTUAL_PETS, pets - 1))),
            "classes": classes,
            "seconds": round(time.perf_counter() - started, 2)}


def availability_bookings(pets: int) -> list[dict]:
    """Confirmed bookings from the next hour on (relative to now: the scenarios ask from
    "now"). Pet 1: 10 minutes every 20 minutes, 1,000 of them (about two weeks busy, two
    free); pets 2..51: 30 minutes at random night hours (00-07 UTC) of the coming week."""
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    base = now + dt.timedelta(hours=1)
    rng = random.Random(15)

    def row(pet_id, start, minutes):
        return {"id": str(uuid.uuid4()), "graph": "instant", "state": "confirmed",
                "resource_id": pet_id, "booker_id": 1, "starts_at": start,
                "ends_at": start + dt.timedelta(minutes=minutes), "what": "benchmark",
                "customer_name": "Bench", "customer_email": "bench@example.com",
                "created_at": now, "updated_at": now}

    rows = [row(AVAILABILITY_PET, base + dt.timedelta(minutes=20 * n), 10)
            for n in range(AVAILABILITY_BOOKINGS)]
    for pet_id in range(2, 2 + min(MUTUAL_PETS, pets - 1)):
        for _ in range(MUTUAL_BOOKINGS_PER_PET):
            day = base.replace(hour=0) + dt.timedelta(days=rng.randrange(1, 7))
            rows.append(row(pet_id, day + dt.timedelta(minutes=30 * rng.randrange(16)), 30))
    return rows


def add_classes(conn, count: int, users: int) -> list[str]:
    """``count`` classes in 2029 (before the booking benchmark's windows), one per pet from
    pet 1, each already holding SEATS_PER_CLASS confirmed seats; returns their ids."""
    now = dt.datetime.now(dt.UTC)
    common = {"what": "class", "customer_name": "Bench", "customer_email": "b@example.com",
              "created_at": now, "updated_at": now}
    ids = []
    for n in range(count):
        start = dt.datetime(2029, 1, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=n)
        window = {"resource_id": n + 1, "starts_at": start,
                  "ends_at": start + dt.timedelta(hours=1)}
        class_id = f"00000000-0000-4000-a000-{n:012d}"  # apart from booking_rows's ids
        ids.append(class_id)
        conn.execute(sa.insert(Booking), [{
            "id": class_id, "graph": "group_owner", "state": "tentative", "booker_id": 1,
            "max_seats": CLASS_MAX_SEATS, **window, **common}])
        conn.execute(sa.insert(Booking), [{
            "id": f"00000000-0000-4000-9{n:03d}-{seat:012d}", "graph": "group_customer",
            "state": "confirmed", "booker_id": seat % users + 1, "owner_booking_id": class_id,
            **window, **common} for seat in range(SEATS_PER_CLASS)])
    return ids


def check_documents(pets: int) -> None:
    """A few generated pets read back as the service's own schema says they should."""
    for pet_id in {1, pets // 2 + 1, pets}:
        expected = PetSchema().dump(pet_fields(pet_id))
        served = orjson.loads(pet_document(pet_id))
        if served != expected:
            raise AssertionError(f"pet {pet_id}: served {served} != expected {expected}")
        db.session.rollback()
