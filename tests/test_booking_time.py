"""Time in the booking engine (issue 13, contract sections 4 and 6): automatic transitions
by advancing the testing clock, "right without a worker", the worker recording each
transition once, payment, reschedule, the testing aids.

Expected graphs are written out in ``helpers.LEGAL_TRANSITIONS`` and
``AUTOMATIC_TRANSITIONS``, independently of booking/graphs.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import (
    AUTOMATIC_TRANSITIONS,
    CLOCK_SETTINGS,
    GROUP_TRANSITIONS,
    LEGAL_TRANSITIONS,
    BookingParties,
    base_config,
    clean_database,
    serving_app,
)
from timekit_api.domain.booking import automation
from timekit_api.domain.booking.graphs import GRAPHS, Auto, Graph, InvalidGraph, Transition
from timekit_api.worker import Worker

START, END = "2030-01-01T10:00:00+00:00", "2030-01-01T11:00:00+00:00"


@pytest.fixture
def app(tmp_path):
    app = serving_app({**base_config(tmp_path), **CLOCK_SETTINGS})
    yield app
    clean_database(app)


class World(BookingParties):
    def __init__(self, client, api):
        super().__init__(client, api)
        self.set_clock("2029-12-31T10:00:00Z")

    def set_clock(self, now):
        response = self.client.put("/v2/testing/clock", json={"now": now})
        assert response.status_code == 200, response.json
        return response.json["now"]

    def advance(self, duration):
        response = self.client.put("/v2/testing/clock", json={"advance": duration})
        assert response.status_code == 200, response.json
        return response.json["now"]

    def create(self, graph="instant_payment", who="booker", start=START, end=END, **fields):
        body = {"graph": graph, "action": GRAPHS[graph].entry_action, "resource_id": self.pet,
                "start": start, "end": end, "what": "Walk",
                "customer": {"name": "Marty", "email": "marty@example.com"}, **fields}
        return self.client.post("/v2/bookings", json=body, headers=self.headers(who))

    def booking(self, **fields):
        response = self.create(**fields)
        assert response.status_code == 201, response.json
        return response.json["data"]

    def act(self, booking_id, action, who="booker", body=None):
        return self.client.put(f"/v2/bookings/{booking_id}/{action}", json=body,
                               headers=self.headers(who))

    def get(self, booking_id, who="booker"):
        response = self.client.get(f"/v2/bookings/{booking_id}", headers=self.headers(who))
        assert response.status_code == 200, response.json
        return response.json["data"]

    def search(self, search, who="owner"):
        response = self.client.get("/v2/bookings", query_string={"search": search},
                                   headers=self.headers(who))
        assert response.status_code == 200, response.json
        return [b["id"] for b in response.json["data"]]

    def reschedule(self, booking_id, who="booker", **body):
        return self.client.post(f"/v2/bookings/{booking_id}/reschedule", json=body,
                                headers=self.headers(who))


@pytest.fixture
def world(client, api):
    return World(client, api)


def run_worker(app, now=None) -> int:
    with app.app_context():
        return automation.run_due(now=now, settings=app.config)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- graphs as data ------------------------------------------------------------------------

def test_graph_json_shows_automatic_transitions(client):
    graphs = {g["name"]: g for g in client.get("/v2/bookings/graphs").json["data"]}
    found = {(name, t["from"], t["action"]): (t["auto"]["after"], t["auto"]["delay"])
             for name, g in graphs.items() for t in g["transitions"] if "auto" in t}
    delays = {"PAYMENT_TIMEOUT": "5 minutes", "AUTO_COMPLETE_AFTER": "1 hour"}
    assert found == {k: (after, delays[setting])
                     for k, (after, setting) in AUTOMATIC_TRANSITIONS.items()}
    pay = next(t for t in graphs["instant_payment"]["transitions"] if t["action"] == "pay")
    assert pay["requires"] == ["payment_id"]
    assert graphs["instant_payment"]["final_states"] == ["unpaid", "cancelled", "completed"]


def test_graph_json_follows_the_delay_settings(tmp_path):
    app = serving_app({**base_config(tmp_path), "PAYMENT_TIMEOUT": "15 minutes"})
    try:
        data = app.test_client().get("/v2/bookings/graphs/instant_payment").json["data"]
        timeout = next(t for t in data["transitions"] if t["action"] == "timeout")
        assert timeout == {"action": "timeout", "from": "tentative", "to": "unpaid",
                           "actor": "system",
                           "auto": {"after": "entered", "delay": "15 minutes"}}
    finally:
        clean_database(app)


def test_a_bad_delay_setting_fails_at_start(tmp_path):
    with pytest.raises(InvalidGraph, match="PAYMENT_TIMEOUT"):
        serving_app({**base_config(tmp_path), "PAYMENT_TIMEOUT": "soon"})


def test_automatic_transitions_are_drawn_dashed(client):
    dot = client.get("/v2/bookings/graphs/instant_payment/diagram?format=dot").get_data(
        as_text=True)
    timeout = next(line for line in dot.splitlines() if '-> "unpaid"' in line)
    assert 'style="dashed"' in timeout and "5 minutes" in timeout
    pay = next(line for line in dot.splitlines() if '-> "paid"' in line)
    assert "dashed" not in pay


@pytest.mark.parametrize(("transitions", "reason"), [
    ((Transition("create", "initialized", "tentative", "booker"),
      Transition("timeout", "tentative", "unpaid", "system")), "needs `auto`"),
    ((Transition("create", "initialized", "tentative", "booker"),
      Transition("timeout", "tentative", "unpaid", "system", auto=Auto("later", "5 minutes"))),
     "auto.after"),
    ((Transition("create", "initialized", "tentative", "booker"),
      Transition("timeout", "tentative", "unpaid", "system", auto=Auto("entered", "soon"))),
     "bad delay"),
    ((Transition("create", "initialized", "tentative", "booker"),
      Transition("a", "tentative", "x", "system", auto=Auto("entered", "5 minutes")),
      Transition("b", "tentative", "y", "system", auto=Auto("entered", "5 minutes"))),
     "more than one automatic"),
    ((Transition("create", "initialized", "tentative", "booker"),
      Transition("a", "tentative", "x", "system", auto=Auto("entered", "5 minutes")),
      Transition("b", "x", "y", "system", auto=Auto("entered", "5 minutes"))),
     "automatic transition of its own"),
])
def test_automatic_transitions_are_validated_when_defined(transitions, reason):
    with pytest.raises(InvalidGraph, match=reason):
        Graph("broken", "", "create", transitions)


# --- every automatic transition, by advancing the clock --------------------------------------

def test_payment_timeout_without_a_worker(world, app):
    booking = world.booking()
    assert booking["state"] == "tentative"
    created = at(booking["created_at"])
    world.advance("4 minutes")
    assert world.get(booking["id"])["state"] == "tentative"
    # a second booking of the slot is refused while the first holds it
    assert world.create(who="stranger").status_code == 409
    world.advance("2 minutes")  # 6 minutes after: due, no worker has run
    seen = world.get(booking["id"])
    assert seen["state"] == "unpaid" and seen["completed"] is True
    assert seen["available_actions"] == []
    last = seen["transitions"][-1]
    assert (last["from"], last["to"], last["action"], last["actor"]) == \
        ("tentative", "unpaid", "timeout", "system")
    assert at(last["created_at"]) == created + dt.timedelta(minutes=5)  # the due time
    assert world.search("state:unpaid") == [booking["id"]]
    assert world.search("state:tentative") == []
    # the slot is free at once
    other = world.create(who="stranger")
    assert other.status_code == 201, other.json
    # paying now is too late
    late = world.act(booking["id"], "pay", body={"pay": {"payment_id": "pi_1"}})
    assert late.status_code == 409
    assert late.json["message"] == "Cannot apply action 'pay' to current state 'unpaid'"
    # the worker then records it once, as it was shown
    assert run_worker(app) == 1
    assert world.get(booking["id"]) == seen
    assert run_worker(app) == 0


def test_a_human_cannot_apply_the_systems_transition(world):
    booking = world.booking()
    for who in ("booker", "owner"):
        response = world.act(booking["id"], "timeout", who)
        assert response.status_code == 403
        assert response.json["message"] == "Only the service may apply action 'timeout'"


def test_pay_requires_a_payment_id_and_stores_it(world):
    booking = world.booking()
    for body in (None, {"pay": {}}, {"pay": {"message": "x"}}, {"pay": {"payment_id": ""}}):
        response = world.act(booking["id"], "pay", body=body)
        assert response.status_code == 400, (body, response.json)
    assert world.get(booking["id"])["state"] == "tentative"
    paid = world.act(booking["id"], "pay", "owner", body={"pay": {"payment_id": "pi_42"}})
    assert paid.status_code == 200, paid.json
    assert paid.json["data"]["state"] == "paid"
    assert paid.json["data"]["payment_id"] == "pi_42"
    assert world.get(booking["id"])["payment_id"] == "pi_42"
    world.advance("10 minutes")  # paid: no timeout any more
    assert world.get(booking["id"])["state"] == "paid"


@pytest.mark.parametrize("graph", ["instant", "confirm_decline", "instant_payment"])
def test_live_bookings_complete_automatically_after_their_end(world, app, graph):
    booking = world.booking(graph=graph)
    if graph == "confirm_decline":
        booking = world.act(booking["id"], "confirm", "owner").json["data"]
    if graph == "instant_payment":
        booking = world.act(booking["id"], "pay",
                            body={"pay": {"payment_id": "p"}}).json["data"]
    live = booking["state"]
    world.set_clock("2030-01-01T11:59:59Z")  # the end (11:00) + 1 hour, not yet
    assert world.get(booking["id"])["state"] == live
    world.set_clock("2030-01-01T12:00:00Z")
    seen = world.get(booking["id"], "owner")
    assert seen["state"] == "completed" and seen["completed"] is True
    last = seen["transitions"][-1]
    assert (last["from"], last["action"], last["actor"], last["created_at"]) == \
        (live, "complete", "system", "2030-01-01T12:00:00+00:00")
    assert world.search("state:completed") == [booking["id"]]
    assert run_worker(app) == 1
    assert world.get(booking["id"], "owner") == seen


def test_every_automatic_transition_is_covered():
    defined = {(g.name, t.source, t.action) for g in GRAPHS.values() for t in g.transitions
               if t.auto is not None}
    assert defined == set(AUTOMATIC_TRANSITIONS)
    assert all(key in {**LEGAL_TRANSITIONS, **GROUP_TRANSITIONS} for key in AUTOMATIC_TRANSITIONS)


def test_the_worker_records_at_the_due_time_not_when_it_noticed(world, app):
    booking = world.booking()
    world.advance("3 hours")
    assert run_worker(app) == 1
    last = world.get(booking["id"])["transitions"][-1]
    assert at(last["created_at"]) == at(booking["created_at"]) + dt.timedelta(minutes=5)


def test_worker_round_through_the_worker_class(world, app):
    for day in range(1, 4):
        world.booking(start=f"2030-01-0{day}T10:00:00Z", end=f"2030-01-0{day}T11:00:00Z")
    world.advance("6 minutes")
    assert Worker(app).run_once() == 3
    assert Worker(app).run_once() == 0
    assert len(world.search("state:unpaid")) == 3


# --- reschedule ------------------------------------------------------------------------------

NEW = {"start": "2030-01-02T10:00:00Z", "end": "2030-01-02T11:00:00Z"}


@pytest.mark.parametrize("who", ["booker", "owner"])
def test_reschedule_keeps_id_and_state_and_records_the_move(world, who):
    booking = world.booking(graph="instant")
    response = world.reschedule(booking["id"], who, **NEW, message="vet moved")
    assert response.status_code == 200, response.json
    moved = response.json["data"]
    assert (moved["id"], moved["state"]) == (booking["id"], "confirmed")
    assert moved["attributes"]["event_info"]["start"] == "2030-01-02T10:00:00+00:00"
    last = moved["transitions"][-1]
    assert (last["action"], last["from"], last["to"], last["actor"]) == \
        ("reschedule", "confirmed", "confirmed", who)
    assert "2030-01-01T10:00:00+00:00" in last["message"]
    assert "2030-01-02T10:00:00+00:00" in last["message"] and "vet moved" in last["message"]
    # the old slot is free, the new one taken
    assert world.create(graph="instant", who="stranger").status_code == 201
    assert world.create(graph="instant", who="stranger", **NEW).status_code == 409


def test_confirmed_confirm_decline_moved_by_its_booker_goes_back_to_tentative(world):
    booking = world.booking(graph="confirm_decline")
    world.act(booking["id"], "confirm", "owner")
    by_booker = world.reschedule(booking["id"], "booker", **NEW).json["data"]
    assert by_booker["state"] == "tentative"
    world.act(booking["id"], "confirm", "owner")
    by_owner = world.reschedule(booking["id"], "owner", start=START, end=END).json["data"]
    assert by_owner["state"] == "confirmed"


def test_reschedule_refuses_an_overlap_atomically(world):
    first = world.booking(graph="instant")
    world.booking(graph="instant", who="stranger", **NEW)
    response = world.reschedule(first["id"], **NEW)
    assert response.status_code == 409
    unchanged = world.get(first["id"])
    assert unchanged["attributes"]["event_info"]["start"] == START
    assert unchanged["transitions"][-1]["action"] == "confirm"


def test_reschedule_moves_the_auto_complete_time(world):
    booking = world.booking(graph="instant")
    world.reschedule(booking["id"], start="2030-01-05T10:00:00Z", end="2030-01-05T11:00:00Z")
    world.set_clock("2030-01-01T12:30:00Z")  # after the old end + 1 hour
    assert world.get(booking["id"])["state"] == "confirmed"
    world.set_clock("2030-01-05T12:00:00Z")
    assert world.get(booking["id"])["state"] == "completed"


def test_reschedule_failures(world, client):
    booking = world.booking()
    assert world.reschedule(booking["id"], "stranger", **NEW).status_code == 404
    assert world.reschedule(booking["id"], start=NEW["end"], end=NEW["start"]).status_code == 400
    assert world.reschedule(booking["id"], start="tomorrow", end=NEW["end"]).status_code == 400
    assert world.reschedule(booking["id"], **NEW, resource_id=10**12).status_code == 400
    assert client.post(f"/v2/bookings/{booking['id']}/reschedule", json=NEW).status_code == 401
    world.advance("6 minutes")  # timed out: no longer live
    response = world.reschedule(booking["id"], **NEW)
    assert response.status_code == 409 and "live" in response.json["message"]
    initialized = world.client.post("/v2/bookings", json={
        "graph": "instant", "resource_id": world.pet, **NEW, "what": "w",
        "customer": {"name": "n", "email": "n@example.com"}}, headers=world.booker).json["data"]
    assert world.reschedule(initialized["id"], start=START, end=END).status_code == 409


def test_reschedule_to_another_pet_of_the_same_owner_only(world, api):
    second = api.add_pet(world.owner)["id"]
    foreign = api.add_pet(world.stranger)["id"]
    booking = world.booking(graph="instant")
    assert world.reschedule(booking["id"], **NEW, resource_id=foreign).status_code == 400
    moved = world.reschedule(booking["id"], **NEW, resource_id=second)
    assert moved.status_code == 200, moved.json
    assert moved.json["data"]["resource_id"] == second


# --- the testing aids ------------------------------------------------------------------------

def test_testing_endpoints_are_off_by_default(tmp_path):
    app = serving_app(base_config(tmp_path))
    try:
        client = app.test_client()
        assert client.get("/v2/testing/clock").status_code == 404
        assert client.post("/v2/testing/reset").status_code == 404
        paths = client.get("/v2/openapi.json").json["paths"]
        assert not [p for p in paths if "testing" in p]
    finally:
        clean_database(app)


def test_clock_get_put_and_bad_bodies(client):
    now = dt.datetime.now(dt.UTC)
    read = at(client.get("/v2/testing/clock").json["now"])
    assert abs(read - now) < dt.timedelta(minutes=1)
    assert client.put("/v2/testing/clock", json={"now": "2031-05-01T12:00:00+02:00"}) \
        .json["now"].startswith("2031-05-01T10:00:0")
    moved = at(client.put("/v2/testing/clock", json={"advance": "6 minutes"}).json["now"])
    assert dt.timedelta(minutes=6) <= moved - at("2031-05-01T10:00:00Z") < dt.timedelta(
        minutes=7)
    for body in ({}, {"now": "2031-05-01T12:00:00+02:00", "advance": "1 hour"},
                 {"advance": "soon"}, {"now": "yesterday"}, {"now": "2031-05-01T12:00:00"},
                 {"advance": "9999999 months"}, {"advance": "1300 months"},
                 {"now": "9999-12-31T23:59:59Z"}, {"now": "0001-01-01T00:00:00Z"}, ["x"]):
        response = client.put("/v2/testing/clock", json=body)
        assert response.status_code == 400, (body, response.json)


def test_token_expiry_reads_the_service_clock(client, api):
    headers = api.user("alice")
    assert client.get("/v2/bookings", headers=headers).status_code == 200
    client.put("/v2/testing/clock", json={"advance": "61 months"})  # past TOKEN_TTL_SECONDS
    assert client.get("/v2/bookings", headers=headers).status_code == 401


def test_reset_wipes_and_loads_the_demo_data(client, api):
    headers = api.user("alice")
    client.put("/v2/testing/clock", json={"advance": "1 week"})
    assert client.post("/v2/testing/reset").status_code == 204
    assert client.get("/v2/bookings", headers=headers).status_code == 401  # alice is gone
    assert client.get("/v2/user/alice").status_code in (401, 404)
    assert client.get("/v2/pet/1").json["name"] == "Cat 1"
    assert abs(at(client.get("/v2/testing/clock").json["now"]) - dt.datetime.now(dt.UTC)) \
        < dt.timedelta(minutes=1)
    token = client.post("/v2/auth", json={"email": "doc.brown@timekit.io",
                                          "password": "DeLorean"})
    assert token.status_code == 200, token.json


def test_reset_demo_command(app, runner, api):
    api.user("alice")
    result = runner.invoke(args=["reset-demo", "--yes"])
    assert result.exit_code == 0, result.output
    assert api.client.get("/v2/pet/10").json["name"] == "Rabbit 1"
    refused = runner.invoke(args=["reset-demo"], input="n\n")
    assert refused.exit_code != 0
