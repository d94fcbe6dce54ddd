"""A generated data set in an SQLite file, written fast through SQLAlchemy Core.

Pets get categories, two tags each, a third of them in each status, and their cached
``document`` rendered by the service's own schema (``render_document``), so the rows are
exactly what the service itself would have written. One user owns every pet and every
order; the benchmark signs in as that user with a pre-issued token.
"""

from __future__ import annotations

import datetime as dt
import time

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from timekit_api import create_app
from timekit_api.database import db
from timekit_api.database.migrate import upgrade_to_head
from timekit_api.database.models import (
    ApiToken,
    Booking,
    Category,
    Order,
    Pet,
    PetTag,
    Tag,
    User,
)
from timekit_api.domain.pets import render_document
from timekit_api.domain.schemas import PET_STATUSES
from timekit_api.domain.tokens import digest

USERNAME = "bench"
PASSWORD = "bench-password"
TOKEN = "bench-token-0123456789abcdefghijklmnopqrstuvwxyz"
CATEGORIES = 10
TAGS = 50
CHUNK = 5000
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


def build(database_url: str, pets: int, users: int = 100, orders: int = 10000,
          password_method: str = "scrypt") -> dict:
    """Fill an empty database; returns what the load scripts need to know about it."""
    started = time.perf_counter()
    app = create_app({"DATABASE_URL": database_url, "AUTO_CREATE_SCHEMA": True})
    upgrade_to_head(app)
    far = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    with app.app_context():
        engine = db.engine
        # One hash shared by every generated user: scrypt is slow on purpose.
        password_hash = generate_password_hash(PASSWORD, method=password_method)
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.execute(sa.insert(User), [
                {"id": n, "username": USERNAME if n == 1 else f"user{n}",
                 "email": f"user{n}@example.com", "first_name": f"First {n}",
                 "last_name": f"Last {n}", "password_hash": password_hash, "timezone": "UTC"}
                for n in range(1, users + 1)])
            conn.execute(sa.insert(ApiToken), [{
                "digest": digest(TOKEN), "user_id": 1, "kind": "api", "scopes": None,
                "expires_at": far}])
            conn.execute(sa.insert(Category), [
                {"id": n, "name": f"category{n}"} for n in range(1, CATEGORIES + 1)])
            conn.execute(sa.insert(Tag), [
                {"id": n, "name": f"tag{n}"} for n in range(1, TAGS + 1)])
            for low in range(1, pets + 1, CHUNK):
                ids = range(low, min(low + CHUNK, pets + 1))
                rows, links = [], []
                for pet_id in ids:
                    fields = pet_fields(pet_id)
                    rows.append({
                        "id": pet_id, "name": fields["name"], "status": fields["status"],
                        "category_id": fields["category"]["id"],
                        "photo_urls": fields["photo_urls"], "owner_id": 1,
                        "document": render_document(fields)})
                    links += [{"pet_id": pet_id, "tag_id": tag["id"], "position": i}
                              for i, tag in enumerate(fields["tags"])]
                conn.execute(sa.insert(Pet), rows)
                conn.execute(sa.insert(PetTag), links)
            conn.execute(sa.insert(Order), [
                {"id": n, "pet_id": n % pets + 1, "quantity": 1, "status": "placed",
                 "complete": False, "owner_id": 1} for n in range(1, orders + 1)])
            classes = add_classes(conn, min(CLASSES, pets), users)
        check_documents(pets)
        db.session.remove()
        engine.dispose()
    return {"pets": pets, "users": users, "orders": orders, "tags": TAGS,
            "username": USERNAME, "password": PASSWORD, "token": TOKEN, "classes": classes,
            "seconds": round(time.perf_counter() - started, 2)}


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
        class_id = f"00000000-0000-4000-8000-{n:012d}"
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
    """The generated document of a few pets equals the one the service renders itself."""
    for pet_id in {1, pets // 2 + 1, pets}:
        pet = db.session.get(Pet, pet_id)
        rendered = render_document(pet)
        if rendered != pet.document:
            raise AssertionError(f"pet {pet_id}: generated {pet.document} != service {rendered}")
        db.session.rollback()
