"""The booking engine's HTTP API (contract section 5), through Flask's test client.

Expected transitions are written out here independently of booking/graphs.py, so a
change in a definition or in the routes shows up as a failure.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid

import pytest
import sqlalchemy as sa

from helpers import GROUP_TRANSITIONS, LEGAL_TRANSITIONS, BookingParties, executed_statements
from timekit_api.database import db
from timekit_api.database.models import Booking, Pet, User
from timekit_api.domain.booking import drawing

START, END = "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"

# How to reach each state from a fresh booking: actions and who applies them.
PATHS = {
    ("instant", "initialized"): [],
    ("instant", "confirmed"): [("confirm", "booker")],
    ("confirm_decline", "initialized"): [],
    ("confirm_decline", "tentative"): [("create", "booker")],
    ("confirm_decline", "confirmed"): [("create", "booker"), ("confirm", "owner")],
    ("instant_payment", "initialized"): [],
    ("instant_payment", "tentative"): [("create", "booker")],
    ("instant_payment", "paid"): [("create", "booker"), ("pay", "booker")],
}
# Final states reached by people (``unpaid`` comes with time: test_booking_time.py).
FINAL = {
    "instant": ["cancelled", "cancelled_by_customer", "completed"],
    "confirm_decline": ["declined", "cancelled", "cancelled_by_customer", "completed"],
    "instant_payment": ["cancelled", "completed"],
}
ALL_FINAL = {**FINAL, "instant_payment": ["unpaid", "cancelled", "completed"]}
ALL_ACTIONS = sorted({action for (_, _, action) in LEGAL_TRANSITIONS} | {"no_such_action"})


def booking_body(pet_id, graph="confirm_decline", start=START, end=END, **fields):
    body = {"graph": graph, "resource_id": pet_id, "start": start, "end": end,
            "what": "Walk", "customer": {"name": "Marty", "email": "marty@example.com"}}
    body.update(fields)
    return body


class World(BookingParties):
    """An owner with a pet and a booker, all through the HTTP API."""

    def another_pet(self):
        pet = self.api.add_pet(self.owner)["id"]
        self.api.open_for_booking(self.owner, pet)
        return pet

    def create(self, who="booker", **fields):
        response = self.client.post("/v2/bookings", json=booking_body(self.pet, **fields),
                                    headers=self.headers(who))
        assert response.status_code == 201, response.json
        return response.json["data"]

    def act(self, booking_id, action, who, body=None):
        if action == "pay":  # pay requires a payment reference
            body = body or {"pay": {}}
            body["pay"] = {"payment_id": "pi_123", **(body["pay"] or {})}
        return self.client.put(f"/v2/bookings/{booking_id}/{action}", json=body,
                               headers=self.headers(who))

    def booking_in(self, graph, state, **fields):
        booking = self.create(graph=graph, **fields)
        path = PATHS[(graph, state)] if (graph, state) in PATHS else path_to_final(graph, state)
        for action, who in path:
            response = self.act(booking["id"], action, who)
            assert response.status_code == 200, response.json
            booking = response.json["data"]
        assert booking["state"] == state
        return booking

    def get(self, booking_id, who):
        return self.client.get(f"/v2/bookings/{booking_id}", headers=self.headers(who))


def path_to_final(graph, state):
    for (g, source, action), (target, who) in LEGAL_TRANSITIONS.items():
        if g == graph and target == state and (g, source) in PATHS and who != "system":
            return [*PATHS[(g, source)], (action, "owner" if who == "booker_or_owner" else who)]
    raise AssertionError(f"no path to {state}")


@pytest.fixture
def world(client, api):
    return World(client, api)


@pytest.fixture(autouse=True)
def fresh_render_cache():
    drawing.clear_cache()
    yield
    drawing.clear_cache()


# --- creating ---------------------------------------------------------------------------------

class TestCreate:
    def test_without_action_waits_in_initialized(self, world):
        booking = world.create()
        uuid.UUID(booking["id"])
        assert booking["graph"] == "confirm_decline"
        assert booking["state"] == "initialized"
        assert booking["completed"] is False
        assert booking["available_actions"] == ["create"]
        assert booking["resource_id"] == world.pet
        assert booking["transitions"] == []
        assert booking["attributes"] == {"event_info": {
            "start": "2030-01-01T10:00:00+00:00", "end": "2030-01-01T11:00:00+00:00",
            "what": "Walk", "where": None, "description": None}}
        assert booking["customers"] == [{"name": "Marty", "email": "marty@example.com",
                                         "phone": None, "timezone": None}]
        assert booking["created_at"] == booking["updated_at"]

    @pytest.mark.parametrize(("graph", "action", "state"), [
        ("instant", "confirm", "confirmed"), ("confirm_decline", "create", "tentative")])
    def test_with_entry_action_applies_it(self, world, graph, action, state):
        booking = world.create(graph=graph, action=action)
        assert booking["state"] == state
        [record] = booking["transitions"]
        assert record["from"] == "initialized" and record["to"] == state
        assert record["action"] == action and record["actor"] == "booker"
        assert record["message"] is None and record["created_at"]

    def test_times_are_stored_in_utc(self, world):
        booking = world.create(start="2030-01-01T10:00:00+02:00",
                               end="2030-01-01T12:30:00-01:00", where="Park",
                               description="long walk",
                               customer={"name": "M", "email": "m@example.com",
                                         "phone": "123", "timezone": "Europe/Oslo"})
        info = booking["attributes"]["event_info"]
        assert info["start"] == "2030-01-01T08:00:00+00:00"
        assert info["end"] == "2030-01-01T13:30:00+00:00"
        assert (info["where"], info["description"]) == ("Park", "long walk")
        assert booking["customers"][0]["timezone"] == "Europe/Oslo"
        assert world.get(booking["id"], "booker").json["data"] == booking

    @pytest.mark.parametrize(("change", "field"), [
        ({"graph": "nope"}, "graph"),
        ({"graph": None}, "graph"),
        ({"action": "confirm"}, "action"),  # not confirm_decline's entry action
        ({"start": "2030-01-01T10:00:00"}, "start"),  # naive
        ({"end": "2030-01-01"}, "end"),
        ({"start": "tomorrow"}, "start"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "start"),  # before year 1 in UTC
        ({"end": START}, "end"),  # empty window
        ({"start": END, "end": START}, "end"),
        ({"what": ""}, "what"),
        ({"resource_id": "1"}, "resource_id"),
        ({"customer": {"name": "M"}}, "customer.email"),
        ({"customer": {"name": "M", "email": "not-an-email"}}, "customer.email"),
        ({"customer": {"name": "M", "email": "m@example.com", "timezone": "Mars/Base"}},
         "customer.timezone"),
        ({"colour": "red"}, "colour"),
    ])
    def test_invalid_body_is_400_naming_the_field(self, client, world, change, field):
        response = client.post("/v2/bookings", json=booking_body(world.pet, **change),
                               headers=world.booker)
        assert response.status_code == 400, response.json
        assert response.json["code"] == 400 and response.json["type"] == "error"
        assert field in response.json["errors"]

    def test_a_time_without_offset_says_one_is_required(self, client, world):
        response = client.post("/v2/bookings", headers=world.booker, json=booking_body(
            world.pet, start="2030-01-01T10:00:00", end="2030-01-01T11:00:00"))
        assert response.status_code == 400
        for field in ("start", "end"):
            assert response.json["errors"][field] == [
                "A timezone offset is required (for example 2030-01-01T10:00:00Z or +01:00)."]

    @pytest.mark.parametrize("field", ["graph", "resource_id", "start", "end", "what",
                                       "customer"])
    def test_required_fields(self, client, world, field):
        body = booking_body(world.pet)
        del body[field]
        response = client.post("/v2/bookings", json=body, headers=world.booker)
        assert response.status_code == 400
        assert field in response.json["errors"]

    def test_unknown_pet_is_400(self, client, world):
        response = client.post("/v2/bookings", json=booking_body(world.pet + 1000),
                               headers=world.booker)
        assert response.status_code == 400
        assert "resource_id" in response.json["errors"]

    def test_not_json_is_415(self, client, world):
        response = client.post("/v2/bookings", data="graph=instant", headers=world.booker,
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415

    def test_anonymous_is_401(self, client, world):
        response = client.post("/v2/bookings", json=booking_body(world.pet))
        assert response.status_code == 401
        assert response.json["type"] == "error"
        assert "WWW-Authenticate" in response.headers


# --- transitions ------------------------------------------------------------------------------

PEOPLES_TRANSITIONS = sorted(k for k, (_, who) in LEGAL_TRANSITIONS.items() if who != "system")


@pytest.mark.parametrize(("graph", "state", "action"), PEOPLES_TRANSITIONS)
def test_legal_transition_by_the_right_actor(world, graph, state, action):
    target, who = LEGAL_TRANSITIONS[(graph, state, action)]
    for day, actor in enumerate(["booker", "owner"] if who == "booker_or_owner" else [who]):
        # its own day: the first may stay live (paid)
        booking = world.booking_in(graph, state, start=f"2030-01-0{day + 1}T10:00:00Z",
                                   end=f"2030-01-0{day + 1}T11:00:00Z")
        response = world.act(booking["id"], action, actor,
                             body={action: {"message": f"by {actor}"}})
        assert response.status_code == 200, response.json
        after = response.json["data"]
        assert after["state"] == target
        assert after["completed"] is (target in ALL_FINAL[graph])
        last = after["transitions"][-1]
        assert (last["from"], last["to"], last["action"]) == (state, target, action)
        assert last["actor"] == actor and last["message"] == f"by {actor}"
        # read back with the booking, by both parties
        for reader in ("booker", "owner"):
            assert world.get(booking["id"], reader).json["data"]["transitions"] == \
                after["transitions"]


@pytest.mark.parametrize(("graph", "state", "action"), sorted(
    (g, s, a) for (g, s, a), (_, who) in LEGAL_TRANSITIONS.items()
    if who not in ("booker_or_owner", "system")))
def test_legal_transition_by_the_wrong_actor_is_403(world, graph, state, action):
    _, who = LEGAL_TRANSITIONS[(graph, state, action)]
    wrong = "owner" if who == "booker" else "booker"
    booking = world.booking_in(graph, state)
    response = world.act(booking["id"], action, wrong)
    assert response.status_code == 403
    assert response.json["code"] == 403 and response.json["type"] == "error"
    assert world.get(booking["id"], "booker").json["data"]["state"] == state


@pytest.mark.parametrize(("graph", "state"), [
    *PATHS, *((g, s) for g, states in FINAL.items() for s in states)])
def test_every_illegal_action_is_409_with_timekits_message(world, graph, state):
    booking = world.booking_in(graph, state)
    allowed = sorted(a for (g, s, a) in LEGAL_TRANSITIONS if (g, s) == (graph, state))
    for action in ALL_ACTIONS:
        if action in allowed:
            continue
        known = any(g == graph and a == action for (g, _, a) in LEGAL_TRANSITIONS)
        for actor in ("booker", "owner"):
            response = world.act(booking["id"], action, actor)
            if not known:  # a name the graph does not have at all: 400, not 409
                assert response.status_code == 400, (action, actor, response.json)
                assert response.json["message"].startswith(
                    f"Unknown action '{action}'; graph '{graph}' has: ")
                continue
            assert response.status_code == 409, (action, actor, response.json)
            assert response.json["message"] == \
                f"Cannot apply action '{action}' to current state '{state}'"
            assert sorted(response.json["errors"]["available_actions"]) == allowed
    assert world.get(booking["id"], "booker").json["data"]["state"] == state


def test_timekits_example_sentence(world):
    booking = world.create()
    response = world.act(booking["id"], "confirm", "owner")
    assert response.status_code == 409
    assert response.json == {"code": 409, "type": "error",
                             "message": "Cannot apply action 'confirm' to current state "
                                        "'initialized'",
                             "errors": {"available_actions": ["create"]}}


@pytest.mark.parametrize(("graph", "state", "booker_sees", "owner_sees"), [
    ("confirm_decline", "initialized", ["create"], []),
    ("confirm_decline", "tentative", ["cancel"], ["confirm", "decline", "cancel"]),
    ("instant", "confirmed", ["cancel", "cancel_by_customer"],
     ["cancel", "cancel_by_customer", "complete"]),
    ("instant", "completed", [], []),
])
def test_available_actions_are_what_the_caller_may_do(world, graph, state, booker_sees,
                                                      owner_sees):
    booking = world.booking_in(graph, state)
    assert world.get(booking["id"], "booker").json["data"]["available_actions"] == booker_sees
    assert world.get(booking["id"], "owner").json["data"]["available_actions"] == owner_sees


def test_owner_booking_own_pet_may_do_everything(world):
    booking = world.create(who="owner", action="create")
    assert booking["available_actions"] == ["confirm", "decline", "cancel"]
    assert world.act(booking["id"], "confirm", "owner").status_code == 200


def test_action_body_is_optional_and_keyed_by_the_action(world, client):
    booking = world.create(action="create")
    url = f"/v2/bookings/{booking['id']}/decline"
    wrong_key = client.put(url, json={"confirm": {"message": "x"}}, headers=world.owner)
    assert wrong_key.status_code == 400
    assert "confirm" in wrong_key.json["errors"]
    bad_details = client.put(url, json={"decline": {"message": 5}}, headers=world.owner)
    assert bad_details.status_code == 400
    extra = client.put(url, json={"decline": {"reason": "x"}}, headers=world.owner)
    assert extra.status_code == 400
    not_object = client.put(url, json=["decline"], headers=world.owner)
    assert not_object.status_code == 400
    assert world.get(booking["id"], "owner").json["data"]["state"] == "tentative"
    empty = client.put(url, headers=world.owner)
    assert empty.status_code == 200
    assert empty.json["data"]["state"] == "declined"
    assert empty.json["data"]["transitions"][-1]["message"] is None


def test_transition_updates_updated_at(world):
    booking = world.create(action="create")
    after = world.act(booking["id"], "confirm", "owner").json["data"]
    assert after["updated_at"] >= booking["updated_at"]
    assert after["updated_at"] == after["transitions"][-1]["created_at"]
    assert after["created_at"] == booking["created_at"]


# --- privacy ----------------------------------------------------------------------------------

class TestPrivacy:
    def test_stranger_cannot_see_or_touch(self, world, client):
        booking = world.create(action="create")
        url = f"/v2/bookings/{booking['id']}"
        assert world.get(booking["id"], "stranger").status_code == 404
        for action in ("confirm", "cancel", "nope"):
            response = world.act(booking["id"], action, "stranger")
            assert response.status_code == 404
            assert response.json["message"] == "Booking not found"
        assert client.delete(url, headers=world.stranger).status_code == 404
        # same answer as for a booking that does not exist
        missing = client.get(f"/v2/bookings/{uuid.uuid4()}", headers=world.stranger)
        assert missing.status_code == 404
        assert missing.json == world.get(booking["id"], "stranger").json
        assert world.get(booking["id"], "booker").json["data"]["state"] == "tentative"

    def test_malformed_id_is_404(self, client, world):
        for bad in ("123", "not-a-uuid", "graphs-x"):
            response = client.get(f"/v2/bookings/{bad}", headers=world.booker)
            assert response.status_code == 404
            assert response.json["type"] == "error"

    def test_uppercase_id_is_the_same_booking(self, world):
        booking = world.create()
        assert world.get(booking["id"].upper(), "booker").json["data"]["id"] == booking["id"]

    @pytest.mark.parametrize(("method", "path"), [
        ("get", "/v2/bookings"), ("get", "/v2/bookings/{id}"),
        ("put", "/v2/bookings/{id}/cancel"), ("delete", "/v2/bookings/{id}")])
    def test_anonymous_is_401(self, client, world, method, path):
        booking = world.create()
        response = getattr(client, method)(path.format(id=booking["id"]))
        assert response.status_code == 401
        assert response.json["code"] == 401


# --- no overlap -------------------------------------------------------------------------------

WINDOWS = {
    "same": ("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", False),
    "contained": ("2030-01-01T10:15:00Z", "2030-01-01T10:45:00Z", False),
    "containing": ("2030-01-01T09:00:00Z", "2030-01-01T12:00:00Z", False),
    "overlaps start": ("2030-01-01T09:30:00Z", "2030-01-01T10:01:00Z", False),
    "overlaps end": ("2030-01-01T10:59:59Z", "2030-01-01T11:30:00Z", False),
    "same, other offset": ("2030-01-01T11:30:00+01:00", "2030-01-01T12:30:00+01:00", False),
    "touches before": ("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z", True),
    "touches after": ("2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z", True),
    "touches, other offset": ("2030-01-01T12:00:00+01:00", "2030-01-01T13:00:00+01:00", True),
    "other day": ("2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z", True),
}


class TestOverlap:
    @pytest.mark.parametrize("window", WINDOWS)
    @pytest.mark.parametrize("live", [("instant", "confirmed"),
                                      ("confirm_decline", "tentative"),
                                      ("confirm_decline", "confirmed")])
    def test_against_a_live_booking(self, world, client, window, live):
        world.booking_in(*live)
        start, end, allowed = WINDOWS[window]
        response = client.post("/v2/bookings", headers=world.stranger, json=booking_body(
            world.pet, graph="instant", action="confirm", start=start, end=end))
        assert response.status_code == (201 if allowed else 409), response.json
        if not allowed:
            assert response.json["type"] == "error"

    @pytest.mark.parametrize("state", ["declined", "cancelled", "cancelled_by_customer",
                                       "completed", "initialized"])
    def test_bookings_that_are_not_live_do_not_block(self, world, client, state):
        world.booking_in("confirm_decline", state)
        response = client.post("/v2/bookings", headers=world.stranger, json=booking_body(
            world.pet, action="create"))
        assert response.status_code == 201

    def test_other_pets_do_not_block(self, world, api, client):
        world.booking_in("instant", "confirmed")
        other = world.another_pet()
        response = client.post("/v2/bookings", headers=world.booker, json=booking_body(
            other, graph="instant", action="confirm"))
        assert response.status_code == 201

    def test_rejected_create_leaves_nothing(self, world, client):
        world.booking_in("instant", "confirmed")
        response = client.post("/v2/bookings", headers=world.stranger,
                               json=booking_body(world.pet, action="create"))
        assert response.status_code == 409
        assert client.get("/v2/bookings", headers=world.stranger).json["total"] == 0

    def test_initialized_bookings_may_overlap_until_entered(self, world):
        first = world.create()
        second = world.create(who="stranger")
        assert world.act(first["id"], "create", "booker").status_code == 200
        response = world.act(second["id"], "create", "stranger")
        assert response.status_code == 409
        assert world.get(second["id"], "stranger").json["data"]["state"] == "initialized"
        assert world.get(second["id"], "stranger").json["data"]["transitions"] == []
        # once the first is declined, the second may go live
        assert world.act(first["id"], "decline", "owner").status_code == 200
        assert world.act(second["id"], "create", "stranger").status_code == 200

    def test_confirming_a_tentative_booking_is_not_blocked_by_itself(self, world):
        booking = world.booking_in("confirm_decline", "tentative")
        assert world.act(booking["id"], "confirm", "owner").status_code == 200

    def test_every_write_takes_the_pet_lock_first(self, app, world):
        """The overlap guarantee rests on this UPDATE being the first statement of each
        write transaction (see booking/engine.py)."""
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany):
            dbapi = conn.connection.dbapi_connection
            statements.append((statement.split()[0].upper(), statement,
                               getattr(dbapi, "in_transaction", None)))

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            booking = world.create(action="create")
            world.act(booking["id"], "confirm", "owner")
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        writes = [i for i, (verb, _, _) in enumerate(statements)
                  if verb in ("INSERT", "UPDATE", "DELETE")]
        locks = [i for i, (_, sql, _) in enumerate(statements)
                 if sql.startswith("UPDATE pets SET booking_version")]
        assert len(locks) == 2
        # each request's first write is the lock ...
        assert writes[0] == locks[0]
        assert [i for i in writes if i > locks[0] and i < locks[1]]  # the inserts
        assert max(i for i in writes if i < locks[1]) < locks[1]
        if engine.dialect.name == "sqlite":
            # ... and on SQLite it opens the transaction: nothing before it read inside one
            for i in locks:
                assert statements[i][2] is False


# --- delete -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("graph", "state"), [
    *PATHS, *((g, s) for g, states in FINAL.items() for s in states)])
def test_delete_only_in_a_final_state(world, client, graph, state):
    booking = world.booking_in(graph, state)
    response = client.delete(f"/v2/bookings/{booking['id']}", headers=world.booker)
    if state in FINAL[graph]:
        assert response.status_code == 204
        assert world.get(booking["id"], "booker").status_code == 404
        assert world.get(booking["id"], "owner").status_code == 404
    else:
        assert response.status_code == 409
        assert response.json["type"] == "error"
        assert world.get(booking["id"], "booker").json["data"]["state"] == state


def test_owner_may_delete_a_final_booking(world, client):
    booking = world.booking_in("confirm_decline", "declined")
    assert client.delete(f"/v2/bookings/{booking['id']}", headers=world.owner).status_code == 204


def test_deleting_the_pet_deletes_its_bookings(world, client):
    booking = world.booking_in("instant", "confirmed")
    assert client.delete(f"/v2/pet/{world.pet}", headers=world.owner).status_code == 200
    assert world.get(booking["id"], "booker").status_code == 404


def test_deleted_booker_leaves_the_booking_to_the_owner(world, client, api):
    booking = world.booking_in("instant", "confirmed")
    assert client.delete("/v2/user/booker", headers=world.booker).status_code == 200
    data = world.get(booking["id"], "owner").json["data"]
    assert data["transitions"][0]["actor"] is None
    assert data["available_actions"] == ["cancel", "cancel_by_customer", "complete"]


def listed_ids(client, headers):
    return [b["id"] for b in client.get("/v2/bookings", headers=headers).json["data"]]


def test_the_pets_owner_is_the_databases_copy_whatever_path_writes(world, client, app):
    """Lists find "bookings of my pets" through bookings.owner_id, which database triggers
    keep: a pet changing owner by hand-written SQL, its owner's account deleted (the
    foreign key's SET NULL), a booking moved to another pet, a bulk Core insert."""
    booking = world.booking_in("instant", "confirmed")
    stranger_id = client.get("/v2/user/stranger", headers=world.stranger).json["id"]
    with app.app_context():
        db.session.execute(sa.text("UPDATE pets SET owner_id = :u WHERE id = :p"),
                           {"u": stranger_id, "p": world.pet})
        db.session.commit()
    assert listed_ids(client, world.stranger) == [booking["id"]]
    assert listed_ids(client, world.owner) == []
    assert world.get(booking["id"], "owner").status_code == 404
    assert world.get(booking["id"], "stranger").json["data"]["available_actions"] == [
        "cancel", "cancel_by_customer", "complete"]  # the owner's
    assert client.delete("/v2/user/stranger", headers=world.stranger).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(Booking.owner_id)) is None
        pet = db.session.get(Pet, world.pet)
        pet.owner_id = db.session.scalar(sa.select(User.id).where(User.username == "owner"))
        db.session.commit()  # through the ORM this time
        db.session.execute(sa.insert(Booking), [{
            "id": "00000000-0000-4000-a000-00000000b001", "graph": "instant",
            "state": "confirmed", "resource_id": world.pet, "booker_id": None,
            "starts_at": dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
            "ends_at": dt.datetime(2031, 1, 1, 1, tzinfo=dt.UTC), "what": "Bulk",
            "customer_name": "B", "customer_email": "b@example.com"}])
        db.session.commit()
    assert listed_ids(client, world.owner) == [booking["id"],
                                               "00000000-0000-4000-a000-00000000b001"]
    # Moved to another pet (of the same owner): the copy follows the booking.
    other = world.another_pet()
    moved = client.post(f"/v2/bookings/{booking['id']}/reschedule", headers=world.owner,
                        json={"start": START, "end": END, "resource_id": other})
    assert moved.status_code == 200, moved.json
    with app.app_context():
        assert db.session.scalar(sa.select(Booking.resource_id).where(
            Booking.id == booking["id"])) == other
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking).where(
            Booking.owner_id.is_(None))) == 0


# --- list -------------------------------------------------------------------------------------

def day(n, hour=10):
    return f"2030-02-{n:02d}T{hour:02d}:00:00Z", f"2030-02-{n:02d}T{hour + 1:02d}:00:00Z"


class TestList:
    def test_sees_own_and_own_pets_bookings_only(self, world, client, api):
        mine = world.create(start=day(1)[0], end=day(1)[1])
        # the stranger books the owner's pet, and has a pet of their own booked by nobody
        theirs = world.create(who="stranger", start=day(2)[0], end=day(2)[1])
        api.add_pet(world.stranger)
        third = api.user("third")

        def ids(headers):
            page = client.get("/v2/bookings", headers=headers).json
            return [b["id"] for b in page["data"]]

        assert ids(world.booker) == [mine["id"]]
        assert ids(world.stranger) == [theirs["id"]]
        assert ids(world.owner) == [mine["id"], theirs["id"]]
        page = client.get("/v2/bookings", headers=third).json
        assert page == {"total": 0, "per_page": 20, "current_page": 1, "last_page": 1,
                        "next_page_url": None, "prev_page_url": None, "from": None,
                        "to": None, "data": []}

    def test_pagination(self, world, client):
        made = [world.create(start=day(n)[0], end=day(n)[1])["id"] for n in range(7, 0, -1)]
        made.reverse()  # listed by start time
        first = client.get("/v2/bookings?limit=3", headers=world.booker).json
        assert (first["total"], first["per_page"], first["current_page"],
                first["last_page"], first["from"], first["to"]) == (7, 3, 1, 3, 1, 3)
        assert [b["id"] for b in first["data"]] == made[:3]
        assert first["prev_page_url"] is None
        assert first["next_page_url"].endswith("/v2/bookings?limit=3&page=2")
        seen = []
        url = "/v2/bookings?limit=3"
        while url:
            page = client.get(url, headers=world.booker).json
            seen += [b["id"] for b in page["data"]]
            url = page["next_page_url"]
        assert seen == made
        last = client.get("/v2/bookings?limit=3&page=3", headers=world.booker).json
        assert (last["from"], last["to"], last["next_page_url"]) == (7, 7, None)
        assert last["prev_page_url"].endswith("limit=3&page=2")
        beyond = client.get("/v2/bookings?limit=3&page=9", headers=world.booker).json
        assert beyond["data"] == [] and beyond["from"] is None and beyond["total"] == 7
        assert beyond["prev_page_url"].endswith("limit=3&page=3")

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "page=0",
                                       "page=-1", "page=x"])
    def test_bad_paging_is_400(self, world, client, query):
        response = client.get(f"/v2/bookings?{query}", headers=world.booker)
        assert response.status_code == 400
        assert response.json["type"] == "error"

    def test_search(self, world, client, api):
        other_pet = world.another_pet()
        confirmed = world.booking_in("instant", "confirmed", start=day(1)[0], end=day(1)[1])
        tentative = world.booking_in("confirm_decline", "tentative", start=day(2)[0],
                                     end=day(2)[1])
        declined = world.booking_in("confirm_decline", "declined", start=day(3)[0],
                                    end=day(3)[1])
        elsewhere = client.post("/v2/bookings", headers=world.booker, json=booking_body(
            other_pet, graph="instant", action="confirm")).json["data"]

        def search(term, who="booker"):
            response = client.get("/v2/bookings", query_string={"search": term},
                                  headers=world.headers(who))
            assert response.status_code == 200, response.json
            return {b["id"] for b in response.json["data"]}

        assert search("state:confirmed") == {confirmed["id"], elsewhere["id"]}
        assert search("state:confirmed;graph:instant") == {confirmed["id"], elsewhere["id"]}
        assert search("graph:confirm_decline") == {tentative["id"], declined["id"]}
        assert search("state:tentative;state:declined") == {tentative["id"], declined["id"]}
        assert search(f"resource_id:{other_pet}") == {elsewhere["id"]}
        assert search(f"resource_id:{world.pet};state:confirmed") == {confirmed["id"]}
        assert search(" state : confirmed ; ") == {confirmed["id"], elsewhere["id"]}
        assert search("state:completed") == set()
        assert search("state:confirmed", who="stranger") == set()
        page = client.get("/v2/bookings", query_string={"search": "state:confirmed",
                                                         "limit": 1},
                          headers=world.booker).json
        assert page["total"] == 2
        assert "search=state%3Aconfirmed" in page["next_page_url"]

    @pytest.mark.parametrize("term", ["colour:red", "state", "state:", "state:nope",
                                      "graph:nope", "resource_id:x", "resource_id:-1",
                                      "state:confirmed;what:walk"])
    def test_bad_search_is_400(self, world, client, term):
        response = client.get("/v2/bookings", query_string={"search": term},
                              headers=world.booker)
        assert response.status_code == 400
        assert "search" in response.json["errors"]

    def test_constant_number_of_queries_per_page(self, app, world, client):
        def count_queries(limit):
            statements, page = executed_statements(app, lambda: client.get(
                f"/v2/bookings?limit={limit}", headers=world.owner).json)
            assert len(page["data"]) == limit
            return len(statements)

        for n in range(1, 7):
            booking = world.booking_in("instant", "confirmed", start=day(n)[0], end=day(n)[1])
            world.act(booking["id"], "complete", "owner")
        assert count_queries(1) == count_queries(6)


# --- graphs -----------------------------------------------------------------------------------

class TestGraphs:
    def test_list_is_anonymous_and_data_driven(self, client):
        response = client.get("/v2/bookings/graphs")
        assert response.status_code == 200
        graphs = response.json["data"]
        assert [g["name"] for g in graphs] == [
            "instant", "confirm_decline", "instant_payment", "group_owner", "group_customer",
            "group_customer_payment"]
        by_name = {g["name"]: g for g in graphs}
        assert by_name["instant"]["entry_action"] == "confirm"
        assert by_name["confirm_decline"]["final_states"] == FINAL["confirm_decline"]
        for g in graphs:
            assert g["initial_state"] == "initialized"
            edges = {(g["name"], t["from"], t["action"]): t["to"] for t in g["transitions"]}
            assert edges == {k: v[0] for k, v in {**LEGAL_TRANSITIONS, **GROUP_TRANSITIONS}.items()
                             if k[0] == g["name"]}

    def test_one_graph(self, client):
        response = client.get("/v2/bookings/graphs/confirm_decline")
        assert response.status_code == 200
        data = response.json["data"]
        assert data["states"] == ["initialized", "tentative", "confirmed", "declined",
                                  "cancelled", "cancelled_by_customer", "completed"]
        assert {"action": "decline", "from": "tentative", "to": "declined",
                "actor": "owner"} in data["transitions"]
        assert client.get("/v2/bookings/graphs").json["data"][1] == data

    def test_unknown_graph_is_404(self, client):
        for url in ("/v2/bookings/graphs/nope", "/v2/bookings/graphs/nope/diagram",
                    "/v2/bookings/graphs/nope/diagram?format=dot"):
            response = client.get(url)
            assert response.status_code == 404
            assert response.json["type"] == "error"

    @pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
    def test_png_by_default(self, client):
        response = client.get("/v2/bookings/graphs/instant/diagram")
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.data.startswith(b"\x89PNG\r\n\x1a\n")

    @pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
    def test_svg_names_every_state(self, client):
        response = client.get("/v2/bookings/graphs/confirm_decline/diagram?format=svg")
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        svg = response.get_data(as_text=True)
        assert "<svg" in svg
        for state in ["initialized", "tentative", *FINAL["confirm_decline"]]:
            assert f">{state}<" in svg

    def test_dot_source(self, client):
        response = client.get("/v2/bookings/graphs/instant/diagram?format=dot")
        assert response.status_code == 200
        assert response.mimetype == "text/vnd.graphviz"
        text = response.get_data(as_text=True)
        assert text.startswith('digraph "instant"')
        assert '"confirmed" -> "completed" [label="complete' in text
        assert 'style="dashed"' in text  # automatic transitions are dashed

    def test_unknown_format_is_400(self, client):
        response = client.get("/v2/bookings/graphs/instant/diagram?format=gif")
        assert response.status_code == 400
        assert "format" in response.json["errors"]

    @pytest.mark.parametrize("fmt", ["png", "svg"])
    def test_without_graphviz_images_are_501_and_dot_still_works(self, client, monkeypatch,
                                                                  fmt):
        monkeypatch.setattr(shutil, "which", lambda name: None)
        response = client.get(f"/v2/bookings/graphs/instant/diagram?format={fmt}")
        assert response.status_code == 501
        assert response.json["code"] == 501 and response.json["type"] == "error"
        assert "install" in response.json["message"] and "graphviz" in response.json["message"]
        dot = client.get("/v2/bookings/graphs/instant/diagram?format=dot")
        assert dot.status_code == 200


# --- documentation ----------------------------------------------------------------------------

def test_openapi_files_every_booking_operation_under_booking(client):
    spec = client.get("/v2/openapi.json").json
    assert [t["name"] for t in spec["tags"]] == ["Authentication", "Booking", "Store", "User"]
    operations = {(method, path): op for path, item in spec["paths"].items()
                  if path.startswith("/v2/bookings") for method, op in item.items()
                  if method in ("get", "post", "put", "delete")}
    assert set(operations) == {
        ("post", "/v2/bookings"), ("get", "/v2/bookings"),
        ("get", "/v2/bookings/{booking_id}"), ("delete", "/v2/bookings/{booking_id}"),
        ("put", "/v2/bookings/{booking_id}/{action}"), ("get", "/v2/bookings/graphs"),
        ("post", "/v2/bookings/{booking_id}/reschedule"),
        ("get", "/v2/bookings/graphs/{graph}"), ("get", "/v2/bookings/graphs/{graph}/diagram"),
        ("get", "/v2/bookings/{booking_id}/calendar.ics"),
        ("get", "/v2/bookings/{booking_id}/external_action/{action}"),
        ("get", "/v2/bookings/groups")}
    for (_method, path), op in operations.items():
        assert op["tags"] == ["Booking"], path
        assert op["summary"], path
    # The emailed links carry their own signature instead of credentials.
    signed_in = [key for key in operations
                 if "graphs" not in key[1] and "external_action" not in key[1]]
    for key in signed_in:
        assert "401" in operations[key]["responses"], key
        assert operations[key]["security"], key
    assert {"201", "400", "409"} <= set(operations[("post", "/v2/bookings")]["responses"])
    assert {"200", "403", "404", "409"} <= set(
        operations[("put", "/v2/bookings/{booking_id}/{action}")]["responses"])
    diagram = operations[("get", "/v2/bookings/graphs/{graph}/diagram")]["responses"]
    assert {"200", "400", "404", "501"} <= set(diagram)
    assert "image/png" in diagram["200"]["content"]
