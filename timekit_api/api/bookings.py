"""Booking tag, part 2: Timekit's booking engine (contract section 5).

Everything a graph decides (which actions exist, what they lead to, who may apply them,
which states are final or live) is read from its definition in ``booking/graphs.py``;
these routes only store bookings and answer HTTP. Who plays which role is the access
policy's business (``security.py``).
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from ..booking import GRAPHS, GraphvizError, GraphvizMissing, IllegalTransition, render
from ..booking import engine
from ..booking import schemas as bs
from ..extensions import Blueprint, db
from ..models import Booking, Pet
from ..security import (booking_roles, current_user_id, may_act, require_booking_actor,
                        require_owner)

# Shared with the pet operations (contract section 1).
blp = Blueprint("bookings", __name__, url_prefix="/bookings", tag="Booking")


# --- representation ------------------------------------------------------------------------

def booking_json(booking: Booking, owner_id: int | None) -> dict:
    """The wire form of ``booking`` for the signed-in user; ``owner_id`` is its pet's owner."""
    graph = GRAPHS[booking.graph]
    roles = booking_roles(booking.booker_id, owner_id)
    return {
        "id": booking.id,
        "graph": graph.name,
        "state": booking.state,
        "completed": graph.is_final(booking.state),
        "available_actions": [t.action for t in graph.transitions
                              if t.source == booking.state and may_act(t.actor, roles)],
        "resource_id": booking.resource_id,
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
        "attributes": {"event_info": {
            "start": booking.starts_at, "end": booking.ends_at, "what": booking.what,
            "where": booking.location, "description": booking.description}},
        "customers": [{"name": booking.customer_name, "email": booking.customer_email,
                       "phone": booking.customer_phone,
                       "timezone": booking.customer_timezone}],
        "transitions": [{"from_state": t.from_state, "to_state": t.to_state,
                         "action": t.action, "actor": t.actor.username if t.actor else None,
                         "message": t.message, "created_at": t.created_at}
                        for t in booking.transitions],
    }


def visible_to_me():
    """Bookings the signed-in user made, or that concern their pets (contract section 3)."""
    me = current_user_id()
    return sa.or_(Booking.booker_id == me, Pet.owner_id == me)


def get_booking(booking_id) -> tuple[Booking, int | None]:
    """The booking and its pet's owner; 404 when it does not exist or is someone else's."""
    row = db.session.execute(
        sa.select(Booking, Pet.owner_id).join(Pet, Pet.id == Booking.resource_id)
        .where(Booking.id == str(booking_id))).first()
    if row is None:
        abort(404, message="Booking not found")
    booking, owner_id = row
    require_owner("Booking", (booking.booker_id, owner_id))
    return booking, owner_id


def illegal(error: IllegalTransition):
    abort(409, message=error.message, errors={"available_actions": error.allowed})


def overlap():
    abort(409, message="The pet is already booked (tentative or confirmed) for part of "
                       "this time", errors={"start": ["Overlaps another live booking."]})


def page_url(page: int, args: dict) -> str:
    params = {"limit": args["limit"], "page": page}
    if request.args.get("search"):
        params["search"] = request.args["search"]
    return f"{request.base_url}?{urlencode(params)}"


# --- bookings -------------------------------------------------------------------------------

@blp.route("")
class Bookings(MethodView):
    @blp.login_required()
    @blp.arguments(bs.BookingCreateSchema, example={
        "graph": "confirm_decline", "action": "create", "resource_id": 1,
        "start": "2026-03-01T10:00:00+01:00", "end": "2026-03-01T11:00:00+01:00",
        "what": "Walk the dog", "where": "Central Park",
        "customer": {"name": "Marty McFly", "email": "marty@timekit.io"}})
    @blp.response(201, bs.BookingEnvelopeSchema, description="the booking")
    @blp.fails_with(_400="Invalid booking, unknown graph or unknown pet (`resource_id`)",
                    _409="The pet is already booked for part of this time",
                    _415="Body is not JSON")
    def post(self, data):
        """Create a booking

        Without `action` the booking waits in state `initialized` until its booker applies
        the graph's entry action (`PUT /bookings/{id}/{action}`); with the entry action it
        is applied at once, in the same transaction. Two live (tentative or confirmed)
        bookings of one pet never overlap: `[start, end)` windows may only touch.
        """
        user_id = current_user_id()
        try:
            booking = engine.new_booking(data, booker_id=user_id)
        except engine.UnknownResource:
            db.session.rollback()
            abort(400, message="No pet has this resource_id",
                  errors={"resource_id": ["Unknown pet."]})
        if "action" in data:
            graph = GRAPHS[data["graph"]]
            try:
                engine.apply(booking, graph.transition(booking.state, data["action"]), user_id)
            except engine.Overlap:
                db.session.rollback()
                overlap()
        db.session.commit()
        return {"data": booking_json(*get_booking(booking.id))}, 201

    @blp.login_required()
    @blp.arguments(bs.BookingListQuerySchema, location="query")
    @blp.response(200, bs.BookingPageSchema, description="one page of bookings")
    @blp.fails_with(_400="Invalid search, limit or page")
    def get(self, args):
        """List bookings

        The bookings the caller made and those of the caller's pets, by start time.
        `search` takes Timekit's syntax: `key:value` pairs separated by `;`
        (`state:confirmed;graph:instant`); a key given twice matches either value.
        """
        where = [visible_to_me()]
        columns = {"state": Booking.state, "graph": Booking.graph,
                   "resource_id": Booking.resource_id}
        for key, values in args.get("search", {}).items():
            where.append(columns[key].in_(values))
        base = sa.select(Booking, Pet.owner_id).join(Pet, Pet.id == Booking.resource_id)
        total = db.session.scalar(
            sa.select(sa.func.count()).select_from(Booking)
            .join(Pet, Pet.id == Booking.resource_id).where(*where))
        limit, page = args["limit"], args["page"]
        rows = db.session.execute(
            base.where(*where).order_by(Booking.starts_at, Booking.id)
            .limit(limit).offset((page - 1) * limit)).all()
        last_page = max(1, math.ceil(total / limit))
        first = (page - 1) * limit + 1
        return {
            "total": total,
            "per_page": limit,
            "current_page": page,
            "last_page": last_page,
            "next_page_url": page_url(page + 1, args) if page < last_page else None,
            "prev_page_url": page_url(min(page - 1, last_page), args) if page > 1 else None,
            "from": first if rows else None,
            "to": first + len(rows) - 1 if rows else None,
            "data": [booking_json(booking, owner_id) for booking, owner_id in rows],
        }


@blp.route("/<uuid:booking_id>")
class BookingById(MethodView):
    @blp.login_required()
    @blp.response(200, bs.BookingEnvelopeSchema, description="the booking")
    @blp.fails_with(_404="Booking not found (also for a malformed id and for others' "
                         "bookings)")
    def get(self, booking_id):
        """Get a booking, with its transition history"""
        return {"data": booking_json(*get_booking(booking_id))}

    @blp.login_required()
    @blp.response(204, description="deleted")
    @blp.fails_with(_404="Booking not found", _409="The booking is not in a final state")
    def delete(self, booking_id):
        """Delete a booking

        Only a booking in a final state (`completed: true`) can be deleted, by its booker
        or the pet's owner.
        """
        booking, _ = get_booking(booking_id)
        graph = GRAPHS[booking.graph]
        if not graph.is_final(booking.state):
            abort(409, message=f"Only a booking in a final state can be deleted; this one "
                               f"is '{booking.state}'",
                  errors={"state": sorted(graph.final_states)})
        db.session.delete(booking)
        db.session.commit()
        return "", 204


@blp.route("/<uuid:booking_id>/<action>")
class BookingAction(MethodView):
    @blp.login_required()
    @blp.arguments(bs.ActionBodySchema, required=False, example={
        "decline": {"message": "Sorry, the dog is at the vet that day"}})
    @blp.response(200, bs.BookingEnvelopeSchema, description="the booking after the action")
    @blp.fails_with(_400="Invalid body (it must be keyed by the action)",
                    _403="The caller may not apply this action (e.g. the booker confirming)",
                    _404="Booking not found",
                    _409="The current state does not allow this action (`errors` lists "
                         "the actions it allows), or the pet is already booked",
                    _415="Body is not JSON")
    def put(self, body, booking_id, action):
        """Apply an action to a booking

        The body is optional and keyed by the action: `{"decline": {"message": "..."}}`;
        the message is recorded with the transition. An action the current state does not
        allow (including a name no graph knows) is a 409 with Timekit's message
        `Cannot apply action 'confirm' to current state 'initialized'`.
        """
        if body and body["action"] != action:
            abort(400, message=f"Body must be keyed by the action '{action}'",
                  errors={body["action"]: [f"Expected key '{action}'."]})
        booking, owner_id = get_booking(booking_id)
        engine.lock_resource(booking.resource_id)
        db.session.refresh(booking)  # the state may have changed before we got the lock
        try:
            transition = GRAPHS[booking.graph].transition(booking.state, action)
        except IllegalTransition as error:
            db.session.rollback()
            illegal(error)
        require_booking_actor(transition, booking_roles(booking.booker_id, owner_id))
        try:
            engine.apply(booking, transition, current_user_id(), (body or {}).get("message"))
        except engine.Overlap:
            db.session.rollback()
            overlap()
        db.session.commit()
        return {"data": booking_json(booking, owner_id)}


# --- graphs ---------------------------------------------------------------------------------

def graph_or_404(name: str):
    graph = GRAPHS.get(name)
    if graph is None:
        abort(404, message=f"No booking graph is called '{name}'")
    return graph


@blp.route("/graphs")
class Graphs(MethodView):
    @blp.response(200, bs.GraphListSchema, description="every booking graph")
    def get(self):
        """List the booking graphs

        States, actions, transitions (with who may apply them), entry action, final states.
        """
        return {"data": [graph.to_json() for graph in GRAPHS.values()]}


@blp.route("/graphs/<graph>")
class GraphByName(MethodView):
    @blp.response(200, bs.GraphEnvelopeSchema, description="the graph")
    @blp.fails_with(_404="No such graph")
    def get(self, graph):
        """Get a booking graph"""
        return {"data": graph_or_404(graph).to_json()}


@blp.route("/graphs/<graph>/diagram")
class GraphDiagram(MethodView):
    @blp.arguments(bs.DiagramQuerySchema, location="query")
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
