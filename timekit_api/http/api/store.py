"""Store tag: inventory and orders. An order belongs to whoever placed it."""

from __future__ import annotations

from flask.views import MethodView

from ...domain import orders, pets, schemas
from ...domain.tokens import READ_PETS, WRITE_PETS
from ..auth import current_user_id
from ..blueprint import Blueprint
from ..responses import answer_response, api_response

blp = Blueprint("store", __name__, url_prefix="/store", tag="Store")


@blp.route("/inventory")
class Inventory(MethodView):
    @blp.operation("getInventory")
    @blp.response(200, schemas.INVENTORY, description="successful operation")
    def get(self):
        """Returns pet inventories by status

        Returns a map of status codes to quantities
        """
        return answer_response(pets.inventory())


@blp.route("/order")
class Orders(MethodView):
    @blp.operation("placeOrder")
    @blp.login_required(WRITE_PETS)
    @blp.idempotent()
    @blp.arguments(schemas.OrderSchema, description="order placed for purchasing the pet")
    @blp.response(200, schemas.OrderSchema, description="successful operation")
    @blp.fails_with(_400="Invalid Order", _409="An order with this id already exists",
                    _415="Body is not JSON")
    def post(self, data):
        """Place an order for a pet"""
        return orders.place_order(data, current_user_id())


@blp.route("/order/<id:orderId>")
class OrderById(MethodView):
    @blp.operation("getOrderById")
    @blp.login_required(READ_PETS)
    @blp.response(200, schemas.OrderSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Order not found")
    def get(self, orderId):
        """Find purchase order by ID

        Orders are visible only to the user who placed them.
        """
        return orders.get_order(orderId, current_user_id())

    @blp.operation("deleteOrder")
    @blp.login_required(WRITE_PETS)
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid ID supplied", _404="Order not found")
    def delete(self, orderId):
        """Delete purchase order by ID"""
        orders.delete_order(orderId, current_user_id())
        return api_response(str(orderId))
