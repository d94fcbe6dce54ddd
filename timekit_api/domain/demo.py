"""The reference Petstore's sample data plus the seed's Timekit user (contract section 4).

For demos only: every demo user shares one documented password.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..database import db
from ..database.models import CatalogVersion, Order, Pet, ServiceClock, User
from . import clock
from .accounts import Hashing, hash_password, login_key
from .pets import load_pet
from .resources import open_every_graph

DEMO_PASSWORD = "demo-password"  # at least 8 characters, as every password
CATEGORIES = {1: "Dogs", 2: "Cats", 3: "Rabbits", 4: "Lions"}
PETS = [  # id, name, category id, tags, status
    (1, "Cat 1", 2, ("tag1", "tag2"), "available"),
    (2, "Cat 2", 2, ("tag2", "tag3"), "available"),
    (3, "Cat 3", 2, ("tag3", "tag4"), "pending"),
    (4, "Dog 1", 1, ("tag1", "tag2"), "available"),
    (5, "Dog 2", 1, ("tag2", "tag3"), "sold"),
    (6, "Dog 3", 1, ("tag3", "tag4"), "pending"),
    (7, "Lion 1", 4, ("tag1", "tag2"), "available"),
    (8, "Lion 2", 4, ("tag2", "tag3"), "available"),
    (9, "Lion 3", 4, ("tag3", "tag4"), "available"),
    (10, "Rabbit 1", 3, ("tag3", "tag4"), "available"),
]
TAG_IDS = {"tag1": 1, "tag2": 2, "tag3": 3, "tag4": 4}
ORDERS = [(1, 1, "placed"), (2, 1, "delivered"), (3, 2, "placed"), (4, 2, "delivered")] + [
    (n, 3, "placed") for n in range(5, 11)]
DOC_BROWN = dict(username="doc.brown", email="doc.brown@timekit.io", first_name="Dr. Emmett",
                 last_name="Brown", timezone="America/Los_Angeles")
DOC_BROWN_PASSWORD = "DeLorean"
DEFAULT_HASHING = Hashing()


def load_demo_data(hashing: Hashing = DEFAULT_HASHING) -> dict[str, int]:
    """Insert what is missing (by id or username); returns how many rows were added."""
    added = {"users": 0, "pets": 0, "orders": 0}
    users = {}
    for n in range(1, 11):
        users[n] = db.session.get(User, n) or User(
            id=n, username=f"user{n}", first_name=f"first name {n}", last_name=f"last name {n}",
            email=f"email{n}@test.com", phone="123-456-7890", user_status=(n - 1) % 3 + 1,
            username_key=f"user{n}", email_key=f"email{n}@test.com",
            password_hash=hash_password(DEMO_PASSWORD, hashing))
        if users[n] not in db.session:
            db.session.add(users[n])
            added["users"] += 1
    if not db.session.query(User).filter_by(username=DOC_BROWN["username"]).first():
        db.session.add(User(**DOC_BROWN, username_key=login_key(DOC_BROWN["username"]),
                            email_key=login_key(DOC_BROWN["email"]),
                            password_hash=hash_password(DOC_BROWN_PASSWORD, hashing)))
        added["users"] += 1
    db.session.flush()
    opened = []
    for pet_id, name, category_id, tags, status in PETS:
        if db.session.get(Pet, pet_id) is not None:
            continue
        load_pet({
            "id": pet_id, "name": name, "photo_urls": ["url1", "url2"], "status": status,
            "category": {"id": category_id, "name": CATEGORIES[category_id]},
            "tags": [{"id": TAG_IDS[t], "name": t} for t in tags],
        }, owner_id=users[1].id)
        added["pets"] += 1
        opened.append(pet_id)
    db.session.flush()
    open_every_graph(opened)  # demo pets can be booked with every graph (contract section 6)
    for order_id, pet_id, status in ORDERS:
        if db.session.get(Order, order_id) is None:
            db.session.add(Order(id=order_id, pet_id=pet_id, quantity=2, status=status,
                                 complete=False, owner_id=users[1].id))
            added["orders"] += 1
    db.session.commit()
    return added


# Rows that describe the database rather than hold data: kept by a reset (the catalog
# version is bumped by the pet writes, so every process's cached lists are dropped).
KEPT_BY_RESET = {CatalogVersion.__tablename__, ServiceClock.__tablename__}


def reset_demo_data(hashing: Hashing = DEFAULT_HASHING) -> dict[str, int]:
    """Wipe every row (users, tokens, pets, orders, bookings...), set the service's clock
    back to real time, then load the demo data. For testing setups only (contract section
    4: ``POST /testing/reset``, ``timekit-api reset-demo``)."""
    for table in reversed(db.metadata.sorted_tables):
        if table.name not in KEPT_BY_RESET:
            db.session.execute(sa.delete(table))
    db.session.commit()
    clock.reset()
    return load_demo_data(hashing)
