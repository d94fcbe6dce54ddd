"""Booking tag, part 2: Timekit's booking engine (contract section 5).

Everything a graph decides (which actions exist, what they lead to, who may apply them,
which states are final or live) is read from its definition in ``domain/booking/graphs.py``;
reading and writing bookings is ``domain/booking/engine.py``'s. These routes parse, call
the engine and answer.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from ...domain.booking import GraphvizError, GraphvizMissing, engine, list_pages, render
from ...domain.booking import schemas as booking_schemas
from ...domain.booking.graphs import graphs_with_delays
from ...domain.notifications import actions as booking_actions
from ...domain.notifications import schemas as notification_schemas
from ...domain.tokens import READ_PETS, WRITE_PETS
from ..auth import current_user_id
from ..blueprint import Blueprint
from ..responses import json_response

# Shared with the pet operations (contract section 1).
blp = Blueprint("bookings", __name__, url_prefix="/bookings", tag="Booking")


def page_url(page: int, limit: int) -> str:
    """A relative link to another page of the same list."""
    params = {"limit": limit, "page": page}
    if request.args.get("search"):
        params["search"] = request.args["search"]
    return f"{request.script_root}{request.path}?{urlencode(params)}"


def with_links(result, page: int, limit: int):
    """The page with links to its neighbours."""
    if page < result.last_page:
        result.next_page_url = page_url(page + 1, limit)
    if page > 1:
        result.prev_page_url = page_url(min(page - 1, result.last_page), limit)
    return result


# --- bookings -------------------------------------------------------------------------------

@blp.route("")
class Bookings(MethodView):
    @blp.login_required(WRITE_PETS)
    @blp.idempotent()
    @blp.arguments(booking_schemas.BookingCreateSchema, example={
        "graph": "confirm_decline", "action": "create", "resource_id": 1,
        "start": "2026-03-01T10:00:00+01:00", "end": "2026-03-01T11:00:00+01:00",
        "what": "Walk the dog", "where": "Central Park",
        "customer": {"name": "Marty McFly", "email": "marty@timekit.io"}})
    @blp.response(201, booking_schemas.BookingEnvelopeSchema, description="the booking")
    @blp.fails_with(_400="Invalid booking, unknown graph or unknown pet (`resource_id`), "
                         "or a seat whose `related.owner_booking_id` is not a class or whose "
                         "`start`, `end` or `resource_id` differ from its class's",
                    _403="Only the pet's owner may create a class (`group_owner`)",
                    _409="The pet is already booked for part of this time, or the class is "
                         "full or no longer live",
                    _415="Body is not JSON")
    def post(self, data):
        """Create a booking

        Without `action` the booking waits in state `initialized` until its booker applies
        the graph's entry action (`PUT /bookings/{id}/{action}`); with the entry action it
        is applied at once, in the same transaction. Two live (tentative or confirmed)
        bookings of one pet never overlap: `[start, end)` windows may only touch.

        Groups: a class (`group_owner`, the pet's owner only, with `settings.max_seats`)
        holds the pet's time like any live booking; a seat (`group_customer`,
        `group_customer_payment`, with `related.owner_booking_id`) takes the class's pet and
        time and does not block the pet. Seats holding a place (tentative, confirmed, paid)
        never exceed `max_seats` (409 "The class is full"). Classes and seats are entered
        with their entry action at once, whether or not `action` is given.
        """
        return engine.create_booking(data, booker_id=current_user_id(),
                                     settings=current_app.config), 201

    @blp.login_required(READ_PETS)
    @blp.arguments(booking_schemas.BookingListQuerySchema, location="query")
    @blp.response(200, booking_schemas.BookingPageSchema, description="one page of bookings")
    @blp.fails_with(_400="Invalid search, limit or page")
    def get(self, args):
        """List bookings

        The bookings the caller made and those of the caller's pets, by start time.
        `search` takes Timekit's syntax: `key:value` pairs separated by `;`
        (`state:confirmed;graph:instant`); a key given twice matches either value.
        """
        limit, page = args["limit"], args["page"]
        viewer_id, search = current_user_id(), args.get("search", {})

        def render_page(now) -> bytes:
            result = engine.list_bookings(viewer_id, search, limit, page, now)
            return current_app.json.dumps(
                BOOKING_PAGE.dump(with_links(result, page, limit))).encode()

        # Everything the bytes depend on besides the bookings and the time: the viewer,
        # the query as sent (the links repeat it) and the path the links start from.
        key = (viewer_id, request.script_root + request.path, request.args.get("search"),
               limit, page)
        return json_response(list_pages.pages.get(key, render_page))


BOOKING_PAGE = booking_schemas.BookingPageSchema()


@blp.route("/groups")
class Groups(MethodView):
    @blp.login_required(READ_PETS)
    @blp.arguments(booking_schemas.GroupListQuerySchema, location="query")
    @blp.response(200, booking_schemas.GroupPageSchema, description="one page of classes")
    @blp.fails_with(_400="Invalid search, limit or page")
    def get(self, args):
        """List the live classes

        Every live class (graph `group_owner`, state `tentative`) of every pet, by start
        time, for anyone signed in, with `attributes.group_booking: {max_seats,
        current_seats}`; `search=resource_id:<pet id>` keeps one pet's. Customer details and
        histories are left out: they are the class's owner's.
        """
        limit, page = args["limit"], args["page"]
        result = engine.list_classes(current_user_id(), args.get("search", {}), limit, page)
        return with_links(result, page, limit)


@blp.route("/<uuid:booking_id>")
class BookingById(MethodView):
    @blp.login_required(READ_PETS)
    @blp.response(200, booking_schemas.BookingEnvelopeSchema, description="the booking")
    @blp.fails_with(_404="Booking not found (also for a malformed id and for others' "
                         "bookings)")
    def get(self, booking_id):
        """Get a booking, with its transition history"""
        return engine.get_booking(booking_id, current_user_id())

    @blp.login_required(WRITE_PETS)
    @blp.response(204, description="deleted")
    @blp.fails_with(_404="Booking not found", _409="The booking is not in a final state")
    def delete(self, booking_id):
        """Delete a booking

        Only a booking in a final state (`completed: true`) can be deleted, by its booker
        or the pet's owner.
        """
        engine.delete_booking(booking_id, current_user_id())
        return "", 204


# --- notifications: the calendar file and emailed action links (contract section 8) ---------

@blp.route("/<uuid:booking_id>/calendar.ics")
class BookingCalendar(MethodView):
    @blp.login_required(READ_PETS)
    @blp.doc(responses={"200": {"description": "the booking as iCalendar", "content": {
        "text/calendar": {"schema": {"type": "string"}}}}})
    @blp.fails_with(_404="Booking not found")
    def get(self, booking_id):
        """Get a booking as an iCalendar file

        For the booker and the pet's owner; its UID is stable, so importing a later file
        (confirmed, then cancelled) updates the same calendar entry.
        """
        content = booking_actions.calendar_file(booking_id, current_user_id(),
                                                current_app.config["SERVICE_NAME"])
        return current_app.response_class(content, mimetype="text/calendar", headers={
            "Content-Disposition": f'attachment; filename="booking-{booking_id}.ics"'})


@blp.route("/<uuid:booking_id>/external_action/<action>")
class BookingExternalAction(MethodView):
    @blp.arguments(notification_schemas.ExternalActionQuerySchema, location="query")
    @blp.response(200, booking_schemas.BookingEnvelopeSchema,
                  description="the booking after the action, as its pet's owner sees it")
    @blp.fails_with(_400="No signature", _403="The link is altered, for another booking or "
                    "action, or expired", _404="Booking not found",
                    _409="The link was used already, or the booking's state no longer "
                         "allows the action")
    def get(self, args, booking_id, action):
        """Apply an action from an emailed link

        The links in booking emails (confirm, decline) act as the pet's owner on that booking
        only, work once, and expire (`ACTION_LINK_MAX_AGE_SECONDS`, default 7 days).
        """
        config = current_app.config
        return booking_actions.apply_link(
            booking_id, action, args["signature"],
            secret=booking_actions.link_secret(config["ACTION_LINK_SECRET"]),
            max_age_seconds=config["ACTION_LINK_MAX_AGE_SECONDS"])


@blp.route("/<uuid:booking_id>/<action>")
class BookingAction(MethodView):
    @blp.login_required(WRITE_PETS)
    @blp.arguments(booking_schemas.ActionBodySchema, required=False, example={
        "decline": {"message": "Sorry, the dog is at the vet that day"}})
    @blp.response(200, booking_schemas.BookingEnvelopeSchema,
                  description="the booking after the action")
    @blp.fails_with(_400="Invalid body (it must be keyed by the action; `pay` needs "
                         "`payment_id`), or an action the graph does not have",
                    _403="The caller may not apply this action (e.g. the booker confirming)",
                    _404="Booking not found",
                    _409="The current state does not allow this action (`errors` lists "
                         "the actions it allows), the pet is already booked, or a seat's "
                         "`cancel_by_customer` comes inside its class's `min_cancel_time`",
                    _415="Body is not JSON")
    def put(self, body, booking_id, action):
        """Apply an action to a booking

        The body is optional and keyed by the action: `{"decline": {"message": "..."}}`;
        the message is recorded with the transition; `pay` requires
        `{"pay": {"payment_id": "..."}}`. An action the current state does not allow is a
        409 with Timekit's message `Cannot apply action 'confirm' to current state
        'initialized'`; a name the booking's graph does not have at all is a 400
        (`Unknown action 'x'; graph 'instant' has: ...`).
        """
        if body and body["action"] != action:
            abort(400, message=f"Body must be keyed by the action '{action}'",
                  errors={body["action"]: [f"Expected key '{action}'."]})
        body = body or {}
        return engine.apply_action(booking_id, action, current_user_id(), body.get("message"),
                                   details=body, settings=current_app.config)


@blp.route("/<uuid:booking_id>/reschedule")
class BookingReschedule(MethodView):
    @blp.login_required(WRITE_PETS)
    @blp.idempotent()
    @blp.arguments(booking_schemas.RescheduleSchema, example={
        "start": "2026-03-02T10:00:00+01:00", "end": "2026-03-02T11:00:00+01:00",
        "message": "The vet moved our appointment"})
    @blp.response(200, booking_schemas.BookingEnvelopeSchema,
                  description="the booking in its new window")
    @blp.fails_with(_400="Invalid window, or another owner's pet",
                    _404="Booking not found",
                    _409="The booking is not live, its graph cannot be rescheduled, or the "
                         "pet is already booked",
                    _415="Body is not JSON")
    def post(self, data, booking_id):
        """Reschedule a booking

        The booker or the pet's owner moves a live `instant`, `confirm_decline` or
        `instant_payment` booking to a new window (and optionally another pet of the same
        owner): same id, same state, the same overlap rule as a new booking, atomically.
        The history records `reschedule` with the old and new windows. A confirmed
        `confirm_decline` booking moved by its booker goes back to `tentative`.
        """
        return engine.reschedule_booking(booking_id, data, current_user_id(),
                                         settings=current_app.config)


# --- graphs ---------------------------------------------------------------------------------

def graph_or_404(name: str):
    graph = graphs_with_delays(current_app.config).get(name)
    if graph is None:
        abort(404, message=f"No booking graph is called '{name}'")
    return graph


@blp.route("/graphs")
class Graphs(MethodView):
    @blp.response(200, booking_schemas.GraphListSchema, description="every booking graph")
    def get(self):
        """List the booking graphs

        States, actions, transitions (with who may apply them), entry action, final states.
        """
        return {"data": list(graphs_with_delays(current_app.config).values())}


@blp.route("/graphs/<graph>")
class GraphByName(MethodView):
    @blp.response(200, booking_schemas.GraphEnvelopeSchema, description="the graph")
    @blp.fails_with(_404="No such graph")
    def get(self, graph):
        """Get a booking graph"""
        return graph_or_404(graph)


@blp.route("/graphs/<graph>/diagram")
class GraphDiagram(MethodView):
    @blp.arguments(booking_schemas.DiagramQuerySchema, location="query")
    @blp.doc(responses={"200": {"description": "the drawing", "content": {
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/svg+xml": {"schema": {"type": "string"}},
        "text/vnd.graphviz": {"schema": {"type": "string"}}}}})
    @blp.fails_with(_400="Unknown format", _404="No such graph",
                    _500="Graphviz failed to draw the graph",
                    _501="Graphviz is not installed (format=dot still works)")
    def get(self, args, graph):
        """Draw a booking graph

        PNG by default; `format=svg` or `format=dot` (Graphviz source, which needs no
        Graphviz on the server).
        """
        try:
            content, mimetype = render(graph_or_404(graph), args["format"])
        except GraphvizMissing as error:
            abort(501, message=error.message)
        except GraphvizError as error:
            current_app.logger.error("drawing booking graph %s failed: %s", graph, error)
            abort(500, message="Graphviz failed to draw the graph")
        return current_app.response_class(content, mimetype=mimetype)
