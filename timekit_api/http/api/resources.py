"""Booking tag, part 3: resource settings and what is free (contract sections 6 and 7).

``domain/resources.py`` keeps the settings and their rules, ``domain/booking/free_time.py``
answers availability with the pure engine (``domain/booking/availability.py``). These routes
parse, call the domain and answer.
"""

from __future__ import annotations

from flask.views import MethodView

from ...database import utcnow
from ...domain import resource_schemas as schemas
from ...domain import resources
from ...domain.booking import free_time
from ...domain.tokens import WRITE_PETS
from ..auth import current_user_id
from ..blueprint import Blueprint

# Shared with the pet and booking operations (contract section 1).
blp = Blueprint("resources", __name__, tag="Booking")


@blp.route("/resources/<id:petId>")
class Resource(MethodView):
    @blp.response(200, schemas.ResourceSchema, description="the pet's booking settings")
    @blp.fails_with(_400="Invalid ID supplied", _404="Pet not found")
    def get(self, petId):  # noqa: N803 (the seed's path parameter name)
        """Get a pet's booking settings

        Anyone may read them: how the pet may be booked by others (timezone, allowed graphs,
        availability constraints, notice, horizon, length, buffer, per-booker limit). A pet
        whose owner never changed them has the defaults.
        """
        return resources.get_resource(petId)

    @blp.login_required(WRITE_PETS)
    @blp.arguments(schemas.ResourceUpdateSchema, example={
        "timezone": "Europe/Oslo", "graphs": ["confirm_decline", "instant"],
        "availability_constraints": [{"allow_weekdays": {}},
                                     {"allow_hours": {"start": 9, "end": 17}}],
        "min_booking_notice": "2 hours", "buffer": "15 minutes"})
    @blp.response(200, schemas.ResourceSchema, description="the settings after the change")
    @blp.fails_with(_400="Invalid ID or setting (`errors` names the field)",
                    _403="The pet belongs to another user", _404="Pet not found",
                    _409="A concurrent first change of the same pet's settings",
                    _415="Body is not JSON")
    def put(self, changes, petId):  # noqa: N803
        """Change a pet's booking settings

        Only the pet's owner. Settings left out keep their value; `id` and `name` are
        read-only. Bookings by anyone but the owner must follow them (400 naming the rule);
        the owner may book their own pet with any graph at any time.
        """
        return resources.update_resource(petId, changes, current_user_id())


@blp.route("/availability")
class Availability(MethodView):
    @blp.arguments(schemas.AvailabilityRequestSchema, example={
        "mode": "roundrobin_random", "resources": [1, 2], "from": "now", "to": "1 week",
        "length": "1 hour", "timeslot_increments": "30 minutes",
        "constraints": [{"allow_hours": {"start": 9, "end": 17}}],
        "output_timezone": "Europe/Oslo"})
    @blp.response(200, schemas.SlotListSchema, description="the free slots, in time order")
    @blp.fails_with(_400="Invalid request (`errors` names the field): unknown constraint, "
                         "`to` before `from`, more than 50 resources, window over 6 months, "
                         "unknown timezone or pet", _415="Body is not JSON")
    def post(self, request):
        """Find free time (Timekit's availability)

        Public: it reveals free and busy time only, never who booked. A pet is free for a
        slot when the slot lies inside its allowed time (its availability constraints and the
        request's, in the pet's timezone), respects its notice, horizon and maximum length,
        and no live booking of it (widened by the larger buffer) intersects it.
        """
        return {"data": free_time.find_availability(request, utcnow())}


@blp.route("/findtime")
class Findtime(MethodView):
    @blp.arguments(schemas.FindtimeRequestSchema, example={
        "resources": [1, 2], "future": "2 weeks", "length": "1 hour"})
    @blp.response(200, schemas.SlotListSchema, description="times when every pet is free")
    @blp.fails_with(_400="Invalid request (`errors` names the field)", _415="Body is not JSON")
    def post(self, request):
        """Find time when every listed pet is free (Timekit's older findtime)

        The same engine as availability, in `mutual` mode from now until `future`; with
        `all_solutions` overlapping solutions are listed too (every 15 minutes).
        """
        return {"data": free_time.find_time(request, utcnow())}
