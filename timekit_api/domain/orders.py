"""Orders: placed by a signed-in user, private to them."""

from __future__ import annotations

from ..database import db, lock_row
from ..database.models import Order
from . import access, pets
from .errors import Invalid, OrderExists, OrderNotFound


def get_order(order_id: int, user_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise OrderNotFound("Order not found")
    access.require_owner("Order", user_id, order.owner_id, not_found=OrderNotFound)
    return order


def place_order(data: dict, user_id: int) -> Order:
    data = dict(data)
    if not pets.exists(data["pet_id"]):
        raise Invalid("Invalid Order: no pet has this petId", errors={"petId": ["Unknown pet."]})
    order_id = data.pop("id", None)
    order = Order(owner_id=user_id, **data)
    if order_id is not None and order_id >= 1:
        taken = db.session.get(Order, order_id)
        if taken is not None and taken.owner_id == user_id:
            raise OrderExists(f"Order {order_id} already exists")
        if taken is None:
            order.id = order_id
        # Taken by another user: whether it is must not leak (contract section 3), so no
        # 409 names it; the order gets the server's next id instead, as when none is sent.
    db.session.add(order)
    db.session.commit()
    return order


def delete_order(order_id: int, user_id: int) -> None:
    if not lock_row(Order, order_id):  # of two deletes, only one finds the order
        raise OrderNotFound("Order not found")
    db.session.delete(get_order(order_id, user_id))
    db.session.commit()
