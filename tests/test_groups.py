"""Groups and classes (contract section 6) through Flask's test client: the three graphs'
transitions with the right and the wrong actor, the cascade, the seat count, the cancel
deadline, the class holding its pet's time, the list of classes and bad input.

Races (many seats at once on real servers) are in test_groups_race.py.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from helpers import GROUP_TRANSITIONS
from timekit_api.domain import clock

START, END = "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"
CUSTOMER = {"name": "Marty", "email": "marty@example.com"}


class Groups:
    """An owner with a pet, two customers and a stranger, all through the HTTP API."""

    def __init__(self, client, api):
        self.client = client
        self.people = {name: api.user(name) for name in ("owner", "booker", "other", "stranger")}
        self.pet = api.add_pet(self.people["owner"])["id"]
        api.open_for_booking(self.people["owner"], self.pet)
        self.days = 0

    def post(self, body, who):
        return self.client.post("/v2/bookings", json=body, headers=self.people[who])

    def class_body(self, max_seats=10, start=START, end=END, **fields):
        return {"graph": "group_owner", "action": "create", "resource_id": self.pet,
                "start": start, "end": end, "what": "Agility class", "customer": CUSTOMER,
                "settings": {"max_seats": max_seats, **fields.pop("settings", {})}, **fields}

    def new_class(self, max_seats=10, **fields):
        response = self.post(self.class_body(max_seats, **fields), "owner")
        assert response.status_code == 201, response.json
        return response.json["data"]

    def seat_body(self, class_id, graph="group_customer", **fields):
        return {"graph": graph, "related": {"owner_booking_id": class_id},
                "customer": CUSTOMER, **fields}

    def new_seat(self, class_id, graph="group_customer", who="booker", **fields):
        response = self.post(self.seat_body(class_id, graph, **fields), who)
        assert response.status_code == 201, response.json
        return response.json["data"]

    def act(self, booking_id, action, who, body=None):
        return self.client.put(f"/v2/bookings/{booking_id}/{action}", json=body,
                               headers=self.people[who])

    def get(self, booking_id, who):
        return self.client.get(f"/v2/bookings/{booking_id}", headers=self.people[who])

    def groups(self, who="stranger", **params):
        return self.client.get("/v2/bookings/groups", query_string=params,
                               headers=self.people[who])

    def booking_in(self, graph, state):
        """A class or a seat (with its class) in ``state``: (booking, class id). Each class
        gets its own day, so several fit on the pet."""
        self.days += 1
        day = dt.datetime(2031, 1, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=self.days)
        course = self.new_class(start=day.isoformat(),
                                end=(day + dt.timedelta(hours=1)).isoformat())
        if graph == "group_owner":
            booking = course
        else:
            booking = self.new_seat(course["id"], graph)
            if state == "paid":
                response = self.act(booking["id"], "pay", "booker",
                                    {"pay": {"payment_id": "pi_1"}})
                assert response.status_code == 200, response.json
                booking = response.json["data"]
        assert booking["state"] == state
        return booking, course["id"]


@pytest.fixture
def world(client, api):
    return Groups(client, api)


def who_may(actor):
    return {"owner": ["owner"], "booker": ["booker"],
            "booker_or_owner": ["booker", "owner"]}[actor]


# --- every transition, by the right actor and by the wrong ones ---------------------------------

HUMAN = sorted(key for key, (_, actor) in GROUP_TRANSITIONS.items()
               if key[1] != "initialized" and actor != "system")


@pytest.mark.parametrize(("graph", "state", "action"), HUMAN)
def test_transition_by_the_right_actor(world, graph, state, action):
    target, actor = GROUP_TRANSITIONS[(graph, state, action)]
    body = {action: {"payment_id": "pi_42"}} if action == "pay" else None
    for who in who_may(actor):
        booking, _ = world.booking_in(graph, state)
        response = world.act(booking["id"], action, who, body)
        assert response.status_code == 200, response.json
        after = response.json["data"]
        assert after["state"] == target
        record = after["transitions"][-1]
        assert (record["from"], record["to"], record["action"]) == (state, target, action)
        assert record["actor"] == who


@pytest.mark.parametrize(("graph", "state", "action"), HUMAN)
def test_transition_by_the_wrong_actor(world, graph, state, action):
    target, actor = GROUP_TRANSITIONS[(graph, state, action)]
    body = {action: {"payment_id": "pi_42"}} if action == "pay" else None
    booking, _ = world.booking_in(graph, state)
    wrong = {"owner": "booker", "booker": "owner", "booker_or_owner": None}[actor]
    if graph == "group_owner":
        wrong = None  # the class's booker is its owner: nobody else can even see it
    if wrong:
        response = world.act(booking["id"], action, wrong, body)
        assert response.status_code == 403, response.json
        assert action in response.json["message"]
    # Others do not see the booking at all.
    assert world.act(booking["id"], action, "stranger", body).status_code == 404
    assert world.get(booking["id"], "owner").json["data"]["state"] == state


def test_only_the_pets_owner_creates_a_class(world):
    response = world.post(world.class_body(), "booker")
    assert response.status_code == 403, response.json
    assert "owner" in response.json["message"]
    course = world.new_class()
    assert course["state"] == "tentative"
    assert course["attributes"]["group_booking"] == {"max_seats": 10, "current_seats": 0}
    [record] = course["transitions"]
    assert (record["action"], record["to"], record["actor"]) == ("create", "tentative", "owner")


def test_a_class_is_entered_even_without_action(world):
    body = world.class_body()
    del body["action"]
    response = world.post(body, "owner")
    assert response.status_code == 201
    assert response.json["data"]["state"] == "tentative"


def test_anyone_signed_in_takes_a_seat_from_the_class(world):
    course = world.new_class(where="Park", description="bring treats")
    seat = world.new_seat(course["id"])
    assert seat["state"] == "confirmed"
    assert seat["resource_id"] == world.pet
    assert seat["related"] == {"owner_booking_id": course["id"]}
    info = seat["attributes"]["event_info"]
    assert (info["start"], info["end"]) == ("2030-01-01T10:00:00+00:00",
                                            "2030-01-01T11:00:00+00:00")
    assert (info["what"], info["where"]) == ("Agility class", "Park")
    assert "group_booking" not in seat["attributes"]
    assert world.get(seat["id"], "booker").json["data"] == seat
    # The pet's owner sees the seat; a stranger does not.
    assert world.get(seat["id"], "owner").status_code == 200
    assert world.get(seat["id"], "stranger").status_code == 404
    held = world.new_seat(course["id"], "group_customer_payment", who="other",
                          start=START, end=END, resource_id=world.pet)
    assert held["state"] == "tentative"
    assert held["available_actions"] == ["pay"]


def test_pay_needs_a_payment_id_and_keeps_it(world):
    seat, _ = world.booking_in("group_customer_payment", "tentative")
    for body in (None, {"pay": {}}, {"pay": {"message": "here"}}):
        response = world.act(seat["id"], "pay", "booker", body)
        assert response.status_code == 400, response.json
        assert "payment_id" in str(response.json["errors"])
    assert world.act(seat["id"], "pay", "booker",
                     {"pay": {"payment_id": ""}}).status_code == 400
    response = world.act(seat["id"], "pay", "owner", {"pay": {"payment_id": "pi_7"}})
    assert response.status_code == 200
    assert response.json["data"]["payment_id"] == "pi_7"
    assert response.json["data"]["state"] == "paid"


# --- the cascade --------------------------------------------------------------------------------

def test_cancelling_a_class_cancels_every_seat_holding_a_place(world):
    course = world.new_class()
    confirmed = world.new_seat(course["id"])
    held = world.new_seat(course["id"], "group_customer_payment", who="other")
    paid = world.new_seat(course["id"], "group_customer_payment", who="other")
    assert world.act(paid["id"], "pay", "other",
                     {"pay": {"payment_id": "pi"}}).status_code == 200
    gone = world.new_seat(course["id"])
    assert world.act(gone["id"], "cancel_by_customer", "booker").status_code == 200

    response = world.act(course["id"], "cancel", "owner", {"cancel": {"message": "Rain"}})
    assert response.status_code == 200, response.json
    assert response.json["data"]["state"] == "cancelled"
    assert response.json["data"]["attributes"]["group_booking"]["current_seats"] == 0
    for seat, before, who in ((confirmed, "confirmed", "booker"), (held, "tentative", "other"),
                              (paid, "paid", "other")):
        after = world.get(seat["id"], who).json["data"]
        assert after["state"] == "cancelled_by_owner"
        record = after["transitions"][-1]
        assert (record["from"], record["action"], record["actor"], record["message"]) == (
            before, "cancel_by_owner", "owner", "Rain")
    untouched = world.get(gone["id"], "booker").json["data"]
    assert untouched["state"] == "cancelled_by_customer"
    assert len(untouched["transitions"]) == 2
    # A cancelled class takes no seats.
    response = world.post(world.seat_body(course["id"]), "booker")
    assert response.status_code == 409
    assert "cancelled" in response.json["message"]


def test_a_class_with_seats_holding_places_is_not_deleted(world):
    course = world.new_class()
    seat = world.new_seat(course["id"])
    assert world.act(course["id"], "complete", "owner").status_code == 200
    response = world.client.delete(f"/v2/bookings/{course['id']}",
                                   headers=world.people["owner"])
    assert response.status_code == 409
    assert world.act(seat["id"], "complete", "owner").status_code == 200
    response = world.client.delete(f"/v2/bookings/{course['id']}",
                                   headers=world.people["owner"])
    assert response.status_code == 204
    # The seat stays its booker's, without its class.
    kept = world.get(seat["id"], "booker").json["data"]
    assert kept["state"] == "completed" and "related" not in kept


# --- places -------------------------------------------------------------------------------------

def test_seats_never_exceed_max_seats(world):
    course = world.new_class(max_seats=2)
    first = world.new_seat(course["id"])
    world.new_seat(course["id"], "group_customer_payment", who="other")  # held counts
    response = world.post(world.seat_body(course["id"]), "stranger")
    assert response.status_code == 409
    assert response.json["message"] == "The class is full"
    # A cancelled seat frees its place.
    assert world.act(first["id"], "cancel_by_customer", "booker").status_code == 200
    world.new_seat(course["id"], who="stranger")
    assert world.post(world.seat_body(course["id"]), "booker").status_code == 409
    listed = world.groups().json["data"][0]
    assert listed["attributes"]["group_booking"] == {"max_seats": 2, "current_seats": 2}


# --- the cancel deadline ------------------------------------------------------------------------

def soon(hours):
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


def test_customer_cancellation_inside_min_cancel_time_is_refused(world):
    course = world.new_class(start=soon(2), end=soon(3), settings={"min_cancel_time": "1 day"})
    seat = world.new_seat(course["id"])
    response = world.act(seat["id"], "cancel_by_customer", "booker")
    assert response.status_code == 409, response.json
    assert "allowed until" in response.json["message"]
    until = dt.datetime.fromisoformat(response.json["errors"]["allowed_until"][0])
    start = dt.datetime.fromisoformat(course["attributes"]["event_info"]["start"])
    assert start - until == dt.timedelta(days=1)
    assert world.get(seat["id"], "booker").json["data"]["state"] == "confirmed"
    # The owner may always cancel.
    response = world.act(seat["id"], "cancel_by_owner", "owner")
    assert response.status_code == 200
    assert response.json["data"]["state"] == "cancelled_by_owner"


def test_paid_seat_inside_min_cancel_time_is_refused_too(world):
    course = world.new_class(start=soon(2), end=soon(3),
                             settings={"min_cancel_time": "3 hours"})
    seat = world.new_seat(course["id"], "group_customer_payment")
    assert world.act(seat["id"], "pay", "booker",
                     {"pay": {"payment_id": "p"}}).status_code == 200
    assert world.act(seat["id"], "cancel_by_customer", "booker").status_code == 409
    assert world.act(seat["id"], "cancel_by_owner", "owner").status_code == 200


def test_a_year_of_min_cancel_time_is_the_limit(world):
    course = world.new_class(start=soon(2), end=soon(3),
                             settings={"min_cancel_time": "12 months"})
    seat = world.new_seat(course["id"])
    assert world.act(seat["id"], "cancel_by_customer", "booker").status_code == 409


def test_a_class_long_past_takes_no_seats(world):
    """A class whose end is long past has completed by itself (AUTO_COMPLETE_AFTER), even
    with a cancel deadline before year one: no seat, and no 500."""
    course = world.new_class(start="0001-01-02T00:00:00Z", end="0001-01-02T01:00:00Z",
                             settings={"min_cancel_time": "12 months"})
    response = world.post(world.seat_body(course["id"], "group_customer"), "booker")
    assert response.status_code == 409
    assert "completed" in response.json["message"]


def test_customer_cancellation_before_min_cancel_time_is_allowed(world):
    course = world.new_class(start=soon(50), end=soon(51),
                             settings={"min_cancel_time": "1 day"})
    seat = world.new_seat(course["id"])
    response = world.act(seat["id"], "cancel_by_customer", "booker")
    assert response.status_code == 200
    assert response.json["data"]["state"] == "cancelled_by_customer"


# --- a class holds the pet's time, seats do not -------------------------------------------------

def instant(world, who="booker", start=START, end=END):
    return world.post({"graph": "instant", "action": "confirm", "resource_id": world.pet,
                       "start": start, "end": end, "what": "Walk", "customer": CUSTOMER},
                      who)


def test_a_class_is_not_created_over_a_live_booking(world):
    assert instant(world).status_code == 201
    response = world.post(world.class_body(start="2030-01-01T10:30:00Z",
                                           end="2030-01-01T12:00:00Z"), "owner")
    assert response.status_code == 409, response.json
    assert world.groups().json["total"] == 0
    # Touching is fine.
    world.new_class(start=END, end="2030-01-01T12:00:00Z")


def test_no_booking_over_a_live_class_and_seats_do_not_block(world):
    course = world.new_class()
    for who in ("booker", "other", "stranger"):  # seats overlap each other and the class
        world.new_seat(course["id"], who=who)
    assert instant(world, "stranger", "2030-01-01T10:59:00Z",
                   "2030-01-01T12:00:00Z").status_code == 409
    assert instant(world, "owner").status_code == 409  # the owner too
    assert world.post(world.class_body(), "owner").status_code == 409
    # Once the class is cancelled, its time is free again (its seats went with it).
    assert world.act(course["id"], "cancel", "owner").status_code == 200
    assert instant(world).status_code == 201


# --- the list of classes and the seats of a class -----------------------------------------------

def test_groups_lists_live_classes_for_anyone_signed_in(world, api):
    first = world.new_class(max_seats=3)
    world.new_seat(first["id"])
    second = world.new_class(max_seats=5, start="2030-01-02T10:00:00Z",
                             end="2030-01-02T11:00:00Z")
    gone = world.new_class(start="2030-01-03T10:00:00Z", end="2030-01-03T11:00:00Z")
    assert world.act(gone["id"], "cancel", "owner").status_code == 200
    instant(world, start="2030-01-04T10:00:00Z", end="2030-01-04T11:00:00Z")
    other_pet = api.add_pet(world.people["other"])["id"]

    page = world.groups().json
    assert (page["total"], page["current_page"], page["from"], page["to"]) == (2, 1, 1, 2)
    assert [c["id"] for c in page["data"]] == [first["id"], second["id"]]
    assert [c["attributes"]["group_booking"] for c in page["data"]] == [
        {"max_seats": 3, "current_seats": 1}, {"max_seats": 5, "current_seats": 0}]
    for listed in page["data"]:
        assert "customers" not in listed and "transitions" not in listed
        assert listed["available_actions"] == []  # a stranger's view
    owners = world.groups("owner").json["data"]
    assert owners[0]["available_actions"] == ["complete", "cancel"]

    assert world.groups(search=f"resource_id:{world.pet}").json["total"] == 2
    assert world.groups(search=f"resource_id:{other_pet}").json["total"] == 0
    paged = world.groups(limit=1, page=2).json
    assert [c["id"] for c in paged["data"]] == [second["id"]]
    assert paged["prev_page_url"].endswith("limit=1&page=1")


@pytest.mark.parametrize("search", ["state:confirmed", "resource_id:x", "resource_id:0",
                                    "owner_booking_id:1", "nope"])
def test_groups_bad_search_is_400(world, search):
    response = world.groups(search=search)
    assert response.status_code == 400
    assert "search" in response.json["errors"]


def test_groups_needs_signing_in(client):
    assert client.get("/v2/bookings/groups").status_code == 401


def test_the_classs_owner_lists_its_seats(world):
    course = world.new_class()
    other_class = world.new_class(start="2030-01-02T10:00:00Z", end="2030-01-02T11:00:00Z")
    mine = world.new_seat(course["id"])
    theirs = world.new_seat(course["id"], who="other")
    world.new_seat(other_class["id"])

    def seats(who, class_id=course["id"]):
        response = world.client.get("/v2/bookings", headers=world.people[who],
                                    query_string={"search": f"owner_booking_id:{class_id}"})
        assert response.status_code == 200, response.json
        return sorted(b["id"] for b in response.json["data"])

    assert seats("owner") == sorted([mine["id"], theirs["id"]])
    assert seats("booker") == [mine["id"]]  # a customer sees only their own seat
    assert seats("stranger") == []
    assert seats("owner", str(uuid.uuid4())) == []
    response = world.client.get("/v2/bookings", headers=world.people["owner"],
                                query_string={"search": "owner_booking_id:not-a-uuid"})
    assert response.status_code == 400


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "field"), [
    ({"settings": {"max_seats": 0}}, "settings"),
    ({"settings": {"max_seats": 10001}}, "settings"),
    ({"settings": {"max_seats": "5"}}, "settings"),
    ({"settings": {"max_seats": 2.5}}, "settings"),
    ({"settings": {}}, "settings"),
    ({"settings": {"max_seats": 5, "min_cancel_time": "soon"}}, "settings"),
    ({"settings": {"max_seats": 5, "min_cancel_time": 3}}, "settings"),
    ({"settings": {"max_seats": 5, "min_cancel_time": "9999999 months"}}, "settings"),
    ({"settings": {"max_seats": 5, "min_cancel_time": "9999999 weeks"}}, "settings"),
    ({"settings": {"max_seats": 5, "min_cancel_time": "367 days"}}, "settings"),
    ({"settings": {"max_seats": 5, "colour": "red"}}, "settings"),
    ({"settings": None}, "settings"),
    ({"related": {"owner_booking_id": str(uuid.uuid4())}}, "related"),
    ({"start": None}, "start"),
])
def test_bad_class_is_400_naming_the_field(world, change, field):
    body = {**world.class_body(), **change}
    response = world.post(body, "owner")
    assert response.status_code == 400, response.json
    assert any(key.split(".")[0].split("[")[0] == field for key in response.json["errors"])


def test_class_without_settings_is_400(world):
    body = world.class_body()
    del body["settings"]
    response = world.post(body, "owner")
    assert response.status_code == 400
    assert any(key.split(".")[0] == "settings" for key in response.json["errors"])


def test_settings_on_another_graph_is_400(world):
    response = world.post({**world.class_body(), "graph": "instant", "action": "confirm"},
                          "owner")
    assert response.status_code == 400
    assert any(key.split(".")[0] == "settings" for key in response.json["errors"])


def test_max_seats_bounds_are_accepted(world):
    assert world.new_class(max_seats=1)["attributes"]["group_booking"]["max_seats"] == 1
    big = world.new_class(max_seats=10000, start="2030-02-01T10:00:00Z",
                          end="2030-02-01T11:00:00Z")
    assert big["attributes"]["group_booking"]["max_seats"] == 10000


def test_bad_seat_is_400_naming_the_field(world):
    course = world.new_class()
    single = instant(world, start="2030-03-01T10:00:00Z", end="2030-03-01T11:00:00Z")
    cases = [
        ({"related": {"owner_booking_id": str(uuid.uuid4())}}, "related"),  # unknown
        ({"related": {"owner_booking_id": single.json["data"]["id"]}}, "related"),  # not a class
        ({"related": {"owner_booking_id": "nope"}}, "related"),
        ({"related": {}}, "related"),
        ({"related": None}, "related"),
        ({"start": "2030-01-01T10:30:00Z"}, "start"),
        ({"end": "2030-01-01T12:00:00Z"}, "end"),
        ({"resource_id": world.pet + 1}, "resource_id"),
        ({"settings": {"max_seats": 3}}, "settings"),
        ({"customer": None}, "customer"),
    ]
    for change, field in cases:
        body = {**world.seat_body(course["id"]), **change}
        response = world.post(body, "booker")
        assert response.status_code == 400, (change, response.json)
        assert any(key.split(".")[0].split("[")[0] == field
                   for key in response.json["errors"]), (change, response.json)
    body = world.seat_body(course["id"])
    del body["related"]
    response = world.post(body, "booker")
    assert response.status_code == 400
    assert any(key.split(".")[0] == "related" for key in response.json["errors"])
    # The same start written in another offset is the same moment.
    world.new_seat(course["id"], start="2030-01-01T11:00:00+01:00")


def test_a_timed_out_seat_frees_its_place_at_once(app, world):
    """No worker runs here: the unpaid seat's timeout is due, so the class counts it out and
    the next customer gets the place (contract section 6, "right without a worker")."""
    course = world.new_class(max_seats=1)
    held = world.new_seat(course["id"], graph="group_customer_payment")
    assert held["state"] == "tentative"
    refused = world.post(world.seat_body(course["id"]), "other")
    assert refused.status_code == 409 and refused.json["message"] == "The class is full"
    with app.app_context():
        clock.set_now(clock.now() + dt.timedelta(minutes=6))  # PAYMENT_TIMEOUT is 5 minutes
    assert world.get(held["id"], "booker").json["data"]["state"] == "unpaid"
    taken = world.post(world.seat_body(course["id"]), "other")
    assert taken.status_code == 201, taken.json
    listed = world.client.get("/v2/bookings/groups", headers=world.people["stranger"]).json
    assert [c["attributes"]["group_booking"] for c in listed["data"]] == [
        {"max_seats": 1, "current_seats": 1}]
