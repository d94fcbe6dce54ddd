"""Store tag: inventory and orders. An order belongs to whoever placed it."""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import abort

from .. import catalog, schemas
from ..extensions import Blueprint, db
from ..models import Order, Pet
from ..security import current_user_id, require_owner
from .pet import api_response, json_response

blp = Blueprint("store", __name__, url_prefix="/store", tag="Store")


def get_order_for_owner(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        abort(404, message="Order not found")
    require_owner("Order", order.owner_id)
    return order


@blp.route("/inventory")
class Inventory(MethodView):
    @blp.response(200, schemas.InventorySchema, description="successful operation")
    def get(self):
        """Returns pet inventories by status

        Returns a map of status codes to quantities
        """
        return json_response(catalog.answers.get(("inventory",), count_by_status))


def count_by_status() -> bytes:
    counts = dict.fromkeys(schemas.PET_STATUSES, 0)
    rows = db.session.execute(
        sa.select(Pet.status, sa.func.count()).where(Pet.status.is_not(None))
        .group_by(Pet.status))
    counts.update(dict(rows.all()))
    return orjson.dumps(counts)


@blp.route("/order")
class Orders(MethodView):
    @blp.login_required()
    @blp.arguments(schemas.OrderSchema, description="order placed for purchasing the pet")
    @blp.response(200, schemas.OrderSchema, description="successful operation")
    @blp.fails_with(_400="Invalid Order", _409="An order with this id already exists",
                    _415="Body is not JSON")
    def post(self, data):
        """Place an order for a pet"""
        if db.session.get(Pet, data["pet_id"]) is None:
            abort(400, message="Invalid Order: no pet has this petId",
                  errors={"petId": ["Unknown pet."]})
        order_id = data.pop("id", None)
        order = Order(owner_id=current_user_id(), **data)
        if order_id is not None and order_id >= 1:
            if db.session.get(Order, order_id) is not None:
                abort(409, message=f"Order {order_id} already exists")
            order.id = order_id
        db.session.add(order)
        db.session.commit()
        return order


@blp.route("/order/<id:orderId>")
class OrderById(MethodView):
    @blp.login_required()
    @blp.response(200, schemas.OrderSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Order not found")
    def get(self, orderId):
        """Find purchase order by ID

        Orders are visible only to the user who placed them.
        """
        return get_order_for_owner(orderId)

    @blp.login_required()
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Order not found")
    def delete(self, orderId):
        """Delete purchase order by ID"""
        db.session.delete(get_order_for_owner(orderId))
        db.session.commit()
        return api_response(str(orderId))
