"""The service as the benchmark serves it: ``wsgi:app`` plus one benchmark-only route.

``GET /v2/bench/order/{id}`` is ``GET /v2/store/order/{id}`` without ``login_required``:
the same ORM read and the same response schema, anonymously. Comparing the two isolates
what authentication costs per request. Nothing else differs from ``wsgi:app``.
"""

from flask.views import MethodView
from flask_smorest import abort

from timekit_api.database import db
from timekit_api.database.models import Order
from timekit_api.domain import schemas
from timekit_api.http.blueprint import Blueprint
from wsgi import app  # noqa: F401  (also allows the api_key header)

blp = Blueprint("bench", __name__, url_prefix="/bench", tag="Benchmark only")


@blp.route("/order/<id:orderId>")
class AnonymousOrder(MethodView):
    @blp.response(200, schemas.OrderSchema)
    def get(self, orderId):
        """The order read of ``GET /store/order/{id}``, anonymous"""
        order = db.session.get(Order, orderId)
        if order is None:
            abort(404, message="Order not found")
        return order


app.extensions["timekit_api.openapi"].register_blueprint(
    blp, url_prefix=app.config["API_PREFIX"] + "/bench")
