"""Testing aids (contract section 4), registered only when ``TESTING_ENDPOINTS`` is on:
reset the database to the demo data, read and move the service's clock (shared by every
instance through the database). They need no credentials: never turn them on in
production (docs/SECURITY.md)."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from ...domain import clock, testing
from ...domain.accounts import Hashing
from ...domain.demo import reset_demo_data
from ..blueprint import Blueprint

blp = Blueprint("testing", __name__, url_prefix="/testing", tag="Testing")


@blp.route("/reset")
class Reset(MethodView):
    @blp.response(204, description="the database holds the demo data and nothing else")
    def post(self):
        """Reset the database to the demo data

        Deletes every user, token, pet, order and booking, sets the clock back to real
        time, then loads the demo data (`timekit-api reset-demo` does the same).
        """
        reset_demo_data(Hashing.from_config(current_app.config))
        return "", 204


@blp.route("/clock")
class Clock(MethodView):
    @blp.response(200, testing.ClockSchema, description="the service's current time")
    def get(self):
        """Read the service's clock"""
        return {"now": clock.now()}

    @blp.arguments(testing.ClockSchema, example={"advance": "6 minutes"})
    @blp.response(200, testing.ClockSchema, description="the service's time after the change")
    @blp.fails_with(_400="Neither or both of `now` and `advance`, or a bad value",
                    _415="Body is not JSON")
    def put(self, data):
        """Set or advance the service's clock

        `{"now": "2030-01-01T10:00:00Z"}` or `{"advance": "6 minutes"}`. Every time rule
        (automatic transitions, token expiry) follows it, on every instance.
        """
        return {"now": testing.move(data)}
