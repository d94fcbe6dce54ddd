"""Resource settings, the booking rules they set, and availability (contract sections 6, 7).

Through Flask's test client, plus the end-to-end checks through waitress with a real HTTP
client (a slot availability offered can be booked; the per-booker limit under real
concurrency, on SQLite and, with TIMEKIT_TEST_DATABASE_URL, on PostgreSQL). The pure engine
itself is proven against a minute-grid oracle in test_availability_engine.py.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
import requests

from helpers import bearer, free_port, http_token, start_server, waitress_serve_command
from timekit_api.domain.booking import GRAPHS

UTC = dt.UTC
OSLO = ZoneInfo("Europe/Oslo")
DEFAULTS = {"timezone": "UTC", "graphs": ["confirm_decline"], "availability_constraints": [],
            "min_booking_notice": "0 minutes", "max_booking_horizon": "6 months",
            "max_booking_length": "1 day", "buffer": "0 minutes",
            "max_live_bookings_per_booker": 20}


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def next_monday(days_ahead: int = 8) -> dt.datetime:
    """Midnight UTC of a Monday at least ``days_ahead`` days from now (inside every default
    horizon, clear of notice)."""
    day = (dt.datetime.now(UTC) + dt.timedelta(days=days_ahead)).date()
    day += dt.timedelta(days=(7 - day.weekday()) % 7)
    return dt.datetime.combine(day, dt.time(), UTC)


MONDAY = next_monday()


def booking_body(pet_id, start, end, graph="confirm_decline", **fields):
    action = GRAPHS[graph].entry_action
    return {"graph": graph, "action": action, "resource_id": pet_id, "start": iso(start),
            "end": iso(end), "what": "Walk",
            "customer": {"name": "Marty", "email": "marty@example.com"}, **fields}


class Place:
    """An owner with a pet, a booker and a stranger, all through the HTTP API."""

    def __init__(self, client, api):
        self.client, self.api = client, api
        self.owner = api.user("owner")
        self.booker = api.user("booker")
        self.stranger = api.user("stranger")
        self.pet = api.add_pet(self.owner, name="Rex")["id"]

    def settings(self, pet=None, who=None, **changes):
        return self.client.put(f"/v2/resources/{pet or self.pet}", json=changes,
                               headers=self.owner if who is None else who)

    def set(self, pet=None, **changes) -> dict:
        response = self.settings(pet, **changes)
        assert response.status_code == 200, response.json
        return response.json

    def book(self, start, end, who=None, pet=None, **fields):
        return self.client.post("/v2/bookings", json=booking_body(
            pet or self.pet, start, end, **fields), headers=who or self.booker)

    def availability(self, **body):
        body.setdefault("resources", [self.pet])
        return self.client.post("/v2/availability", json=body)

    def slots(self, **body) -> list[dict]:
        response = self.availability(**body)
        assert response.status_code == 200, response.json
        return response.json["data"]


@pytest.fixture
def place(client, api):
    return Place(client, api)


def starts(slots) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(slot["start"]) for slot in slots]


# --- resource settings ------------------------------------------------------------------------

class TestSettings:
    def test_defaults_for_anyone(self, place, client):
        response = client.get(f"/v2/resources/{place.pet}")
        assert response.status_code == 200
        assert response.json == {"id": place.pet, "name": "Rex", **DEFAULTS}

    def test_owner_changes_some_the_rest_keep_their_value(self, place, client):
        changed = place.set(timezone="Europe/Oslo", graphs=["instant", "instant"],
                            min_booking_notice="2 hour", buffer="90 minutes",
                            availability_constraints=[{"allow_weekdays": {}}])
        expected = {**DEFAULTS, "id": place.pet, "name": "Rex", "timezone": "Europe/Oslo",
                    "graphs": ["instant"], "min_booking_notice": "2 hours",
                    "buffer": "90 minutes", "availability_constraints": [{"allow_weekdays": {}}]}
        assert changed == expected
        again = place.set(max_live_bookings_per_booker=3, id=999, name="ignored")
        assert again == {**expected, "max_live_bookings_per_booker": 3}
        assert client.get(f"/v2/resources/{place.pet}").json == again

    def test_pet_schema_is_unchanged(self, place, client):
        place.set(graphs=["instant"])
        pet = client.get(f"/v2/pet/{place.pet}").json
        assert set(pet) <= {"id", "name", "photoUrls", "status", "category", "tags"}

    def test_only_the_owner(self, place, client):
        response = place.settings(who=place.booker, graphs=["instant"])
        assert response.status_code == 403
        assert client.put(f"/v2/resources/{place.pet}", json={}).status_code == 401
        assert client.get(f"/v2/resources/{place.pet}").json["graphs"] == ["confirm_decline"]

    def test_unknown_pet_is_404_and_bad_id_400(self, place, client):
        assert client.get("/v2/resources/999").status_code == 404
        assert place.settings(pet=999, graphs=[]).status_code == 404
        assert client.get("/v2/resources/abc").status_code == 400

    @pytest.mark.parametrize(("field", "value"), [
        ("timezone", "Mars/Olympus"), ("timezone", ""), ("timezone", 3),
        ("timezone", "Europe"),  # a folder of the zone database: OSError, not "not found"
        ("graphs", ["nope"]), ("graphs", "instant"), ("graphs", [1]),
        ("availability_constraints", [{"allow_hourz": {}}]),
        ("availability_constraints", [{"allow_hours": {"start": 9}}]),
        ("availability_constraints", [{"allow_hours": {"start": 9, "end": 25}}]),
        ("availability_constraints", {"allow_weekdays": {}}),
        ("min_booking_notice", "2 fortnights"), ("max_booking_horizon", "-1 days"),
        ("max_booking_length", 60), ("buffer", "1 month"),
        ("max_live_bookings_per_booker", 0), ("max_live_bookings_per_booker", True),
        ("max_live_bookings_per_booker", "3"), ("color", "red"),
        ("min_booking_notice", "9999999 months"), ("max_booking_length", "9999999 days"),
    ])
    def test_bad_values_are_400_naming_the_field(self, place, client, field, value):
        response = place.settings(**{field: value})
        assert response.status_code == 400, response.json
        # the field, or an item of it (`graphs[0]`), named by its wire path
        assert any(key.split("[")[0].split(".")[0] == field for key in response.json["errors"]), \
            response.json
        assert client.get(f"/v2/resources/{place.pet}").json["graphs"] == ["confirm_decline"]

    def test_deleting_the_pet_deletes_its_settings(self, place, client):
        place.set(graphs=["instant"])
        assert client.delete(f"/v2/pet/{place.pet}", headers=place.owner).status_code == 200
        assert client.get(f"/v2/resources/{place.pet}").status_code == 404


# --- the rules bookings by others follow -------------------------------------------------------

def at(day: int, hour: float, zone=UTC) -> dt.datetime:
    """``day`` days after MONDAY at ``hour`` (local wall time in ``zone``)."""
    local = dt.datetime.combine(MONDAY.date() + dt.timedelta(days=day), dt.time(), zone)
    return (local + dt.timedelta(hours=hour)).astimezone(UTC)


class TestBookingRules:
    def test_default_graph_only(self, place):
        refused = place.book(at(0, 10), at(0, 11), graph="instant")
        assert refused.status_code == 400
        assert "graph" in refused.json["errors"] and "graphs" in refused.json["message"]
        assert place.book(at(0, 10), at(0, 11)).status_code == 201

    @pytest.mark.parametrize(("settings", "window", "field", "rule"), [
        ({"max_booking_length": "2 hours"}, (at(0, 10), at(0, 12, ) + dt.timedelta(minutes=1)),
         "end", "max_booking_length"),
        ({"min_booking_notice": "30 days"}, (at(0, 10), at(0, 11)), "start",
         "min_booking_notice"),
        ({}, (dt.datetime.now(UTC) - dt.timedelta(hours=2),
              dt.datetime.now(UTC) - dt.timedelta(hours=1)), "start", "min_booking_notice"),
        ({"max_booking_horizon": "1 day"}, (at(0, 10), at(0, 11)), "end",
         "max_booking_horizon"),
        ({"availability_constraints": [{"allow_hours": {"start": 9, "end": 17}}]},
         (at(0, 16, OSLO), at(0, 17, OSLO) + dt.timedelta(minutes=30)), "start",
         "availability_constraints"),
        ({"availability_constraints": [{"block_day": {"day": "Tuesday"}}]},
         (at(0, 23), at(1, 1)), "start", "availability_constraints"),
    ], ids=["length", "notice", "past", "horizon", "hours-in-pet-timezone", "block-day"])
    def test_each_rule_is_400_naming_it(self, place, settings, window, field, rule):
        place.set(timezone="Europe/Oslo", **settings)
        refused = place.book(*window)
        assert refused.status_code == 400, refused.json
        assert field in refused.json["errors"]
        assert rule in refused.json["message"]
        assert place.client.get("/v2/bookings", headers=place.booker).json["total"] == 0

    def test_the_ends_of_the_calendar_are_400_not_500(self, place):
        place.set(max_booking_horizon="1200 months", max_booking_length="1200 months")
        late = dt.datetime(9999, 12, 31, 22, tzinfo=UTC)
        refused = place.book(late, late + dt.timedelta(hours=1))
        assert refused.status_code == 400 and "end" in refused.json["errors"]

    def test_customer_timezone_naming_a_folder_is_400(self, place):
        refused = place.book(at(0, 10), at(0, 11), customer={
            "name": "M", "email": "m@example.com", "timezone": "Europe"})
        assert refused.status_code == 400 and "customer.timezone" in refused.json["errors"]

    def test_inside_every_rule_is_allowed(self, place):
        place.set(timezone="Europe/Oslo", max_booking_length="2 hours",
                  min_booking_notice="1 day", max_booking_horizon="2 months",
                  availability_constraints=[{"allow_hours": {"start": 9, "end": 17}}])
        assert place.book(at(0, 15, OSLO), at(0, 17, OSLO)).status_code == 201

    def test_owner_books_own_pet_with_any_graph_at_any_time(self, place):
        place.set(graphs=["confirm_decline"], max_booking_horizon="1 day",
                  max_booking_length="1 hour", min_booking_notice="2 weeks", buffer="1 day",
                  max_live_bookings_per_booker=1,
                  availability_constraints=[{"block_weekdays": {}}, {"block_weekends": {}}])
        for day in (0, 1, 3):  # blocks the pet's time, days long, far ahead, back to back
            response = place.book(at(day, 0), at(day + 1, 0) + dt.timedelta(days=300),
                                  who=place.owner, graph="instant")
            assert response.status_code in (201, 409), response.json
        first = place.book(at(400, 0), at(401, 0), who=place.owner, graph="instant")
        assert first.status_code == 201, first.json

    def test_live_booking_limit_per_booker_and_pet(self, place, api):
        place.set(max_live_bookings_per_booker=2)
        other = api.add_pet(place.owner)["id"]
        place.set(pet=other, max_live_bookings_per_booker=2)
        made = [place.book(at(0, h), at(0, h + 1)) for h in (9, 10)]
        assert [r.status_code for r in made] == [201, 201]
        refused = place.book(at(0, 11), at(0, 12))
        assert refused.status_code == 400
        assert "max_live_bookings_per_booker" in refused.json["message"]
        assert "resource_id" in refused.json["errors"]
        # another booker, and another pet, have their own counts
        assert place.book(at(0, 11), at(0, 12), who=place.stranger).status_code == 201
        assert place.book(at(0, 11), at(0, 12), pet=other).status_code == 201
        # a booking waiting in `initialized` counts (entering it needs no further check) ...
        waiting = place.client.post("/v2/bookings", headers=place.stranger, json={
            k: v for k, v in booking_body(place.pet, at(1, 9), at(1, 10)).items()
            if k != "action"})
        assert waiting.status_code == 201
        assert place.book(at(1, 11), at(1, 12), who=place.stranger).status_code == 400
        # ... and a booking that is no longer live frees a place
        declined = place.client.put(f"/v2/bookings/{made[0].json['data']['id']}/decline",
                                    headers=place.owner)
        assert declined.status_code == 200
        assert place.book(at(0, 13), at(0, 14)).status_code == 201

    def test_buffer_around_live_bookings_is_409(self, place):
        place.set(buffer="30 minutes", graphs=["instant", "confirm_decline"])
        assert place.book(at(0, 10), at(0, 11), who=place.owner, graph="instant"
                          ).status_code == 201
        near = place.book(at(0, 11, ) + dt.timedelta(minutes=15), at(0, 12))
        assert near.status_code == 409
        assert "buffer" in near.json["errors"]
        overlap = place.book(at(0, 10, ) + dt.timedelta(minutes=30), at(0, 12))
        assert overlap.status_code == 409 and "start" in overlap.json["errors"]
        assert place.book(at(0, 11, ) + dt.timedelta(minutes=30), at(0, 12)).status_code == 201

    def test_buffer_holds_when_a_waiting_booking_is_entered(self, place):
        place.set(buffer="30 minutes")
        waiting = place.client.post("/v2/bookings", headers=place.booker, json={
            k: v for k, v in booking_body(place.pet, at(0, 11), at(0, 12)).items()
            if k != "action"})
        assert waiting.status_code == 201  # not live: nothing to keep apart from yet
        assert place.book(at(0, 10), at(0, 11) - dt.timedelta(minutes=15),
                          who=place.stranger).status_code == 201
        entered = place.client.put(f"/v2/bookings/{waiting.json['data']['id']}/create",
                                   headers=place.booker)
        assert entered.status_code == 409 and "buffer" in entered.json["errors"]


# --- availability: constraints, modes, bad input -----------------------------------------------

WEEK = {"from": iso(MONDAY), "to": iso(MONDAY + dt.timedelta(days=7))}
PERIOD = {"start": iso(at(1, 10)), "end": iso(at(1, 13))}
# kind -> (constraint, whether an hourly UTC slot starting at `moment` is open)
CONSTRAINTS = {
    "allow_hours": ({"allow_hours": {"start": 9, "end": 17.5}}, lambda m: 9 <= m.hour < 17),
    "block_hours": ({"block_hours": {"start": 9, "end": 17}}, lambda m: not 9 <= m.hour < 17),
    "allow_day": ({"allow_day": {"day": "Wednesday"}}, lambda m: m.weekday() == 2),
    "block_day": ({"block_day": {"day": "Wednesday"}}, lambda m: m.weekday() != 2),
    "allow_day_and_time": ({"allow_day_and_time": {"day": "Monday", "start": 9, "end": 12}},
                           lambda m: m.weekday() == 0 and 9 <= m.hour < 12),
    "block_day_and_time": ({"block_day_and_time": {"day": "Monday", "start": 9, "end": 12}},
                           lambda m: not (m.weekday() == 0 and 9 <= m.hour < 12)),
    "allow_period": ({"allow_period": PERIOD},
                     lambda m: at(1, 10) <= m < at(1, 13)),
    "block_period": ({"block_period": PERIOD},
                     lambda m: not at(1, 10) <= m < at(1, 13)),
    "allow_weekdays": ({"allow_weekdays": {}}, lambda m: m.weekday() < 5),
    "block_weekdays": ({"block_weekdays": {}}, lambda m: m.weekday() >= 5),
    "allow_weekends": ({"allow_weekends": {}}, lambda m: m.weekday() >= 5),
    "block_weekends": ({"block_weekends": {}}, lambda m: m.weekday() < 5),
}


class TestConstraints:
    @pytest.mark.parametrize("kind", sorted(CONSTRAINTS))
    @pytest.mark.parametrize("where", ["pet", "request"])
    def test_every_kind(self, place, kind, where):
        constraint, is_open = CONSTRAINTS[kind]
        body = dict(WEEK, mode="mutual")
        if where == "pet":
            place.set(availability_constraints=[constraint])
        else:
            body["constraints"] = [constraint]
        got = starts(place.slots(**body))
        every_hour = [MONDAY + dt.timedelta(hours=n) for n in range(7 * 24)]
        assert got == [m for m in every_hour if is_open(m)]
        assert 0 < len(got) < len(every_hour)

    def test_request_narrows_the_pets_never_widens(self, place):
        place.set(availability_constraints=[{"allow_hours": {"start": 9, "end": 12}}])
        got = starts(place.slots(**WEEK, constraints=[
            {"allow_hours": {"start": 10, "end": 18}}]))
        assert {m.hour for m in got} == {10, 11}

    def test_in_the_pets_timezone_output_in_the_requested_one(self, place):
        place.set(timezone="Europe/Oslo",
                  availability_constraints=[{"allow_hours": {"start": 9, "end": 17}}])
        slots = place.slots(**WEEK, output_timezone="America/New_York")
        assert slots and all(s["start"][-6:] in ("-05:00", "-04:00") for s in slots)
        for moment in starts(slots):
            local = moment.astimezone(OSLO)
            assert 9 <= local.hour < 17 and local.minute == 0

    def test_spring_forward_has_no_0230_and_autumn_has_25_hours(self, place):
        place.set(timezone="Europe/Oslo", max_booking_horizon="24 months")
        spring = place.slots(**{"from": "2027-03-28T00:00:00+01:00",
                                "to": "2027-03-28T05:00:00+02:00"},
                             length="30 minutes", output_timezone="Europe/Oslo")
        times = [s["start"][11:16] for s in spring]
        assert "02:00" not in times and "02:30" not in times
        assert times[:4] == ["00:00", "00:30", "01:00", "01:30"] and "03:00" in times
        autumn = place.slots(**{"from": "2027-10-31T00:00:00+02:00",
                                "to": "2027-11-01T00:00:00+01:00"},
                             output_timezone="Europe/Oslo", mode="mutual")
        assert len(autumn) == 25
        assert [s["start"] for s in autumn][2:4] == ["2027-10-31T02:00:00+02:00",
                                                     "2027-10-31T02:00:00+01:00"]


class TestModes:
    @pytest.fixture
    def two(self, place, api):
        """Pets A and B; A is busy Monday 10-11 (its owner blocked it)."""
        b = api.add_pet(place.owner, name="Bella")["id"]
        place.book(at(0, 10), at(0, 11), who=place.owner, graph="instant")
        return place.pet, b

    def ask(self, place, resources, mode):
        return place.slots(resources=resources, mode=mode, **{"from": iso(at(0, 8)),
                                                              "to": iso(at(0, 14))})

    def test_roundrobin_prioritized_picks_the_first_free_in_order(self, place, two):
        a, b = two
        got = self.ask(place, [a, b], "roundrobin_prioritized")
        assert [(s["start"][11:13], [r["id"] for r in s["resources"]]) for s in got] == [
            ("08", [a]), ("09", [a]), ("10", [b]), ("11", [a]), ("12", [a]), ("13", [a])]
        reverse = self.ask(place, [b, a], "roundrobin_prioritized")
        assert {r["id"] for s in reverse for r in s["resources"]} == {b}
        assert got[0]["resources"] == [{"id": a, "name": "Rex"}]

    def test_roundrobin_random_picks_only_free_ones(self, place, two):
        a, b = two
        chosen = set()
        for _ in range(20):
            for slot in self.ask(place, [a, b], "roundrobin_random"):
                assert len(slot["resources"]) == 1
                pick = slot["resources"][0]["id"]
                chosen.add(pick)
                if slot["start"][11:13] == "10":
                    assert pick == b
        assert chosen == {a, b}

    def test_mutual_lists_every_pet_where_all_are_free(self, place, two):
        got = self.ask(place, list(two), "mutual")
        assert [s["start"][11:13] for s in got] == ["08", "09", "11", "12", "13"]
        assert all([r["id"] for r in s["resources"]] == list(two) for s in got)

    def test_exclusive_lists_all_free_ones(self, place, two):
        a, b = two
        got = {s["start"][11:13]: [r["id"] for r in s["resources"]]
               for s in self.ask(place, [a, b], "exclusive")}
        assert got == {"08": [a, b], "09": [a, b], "10": [b], "11": [a, b], "12": [a, b],
                       "13": [a, b]}

    def test_default_mode_is_roundrobin_random(self, place, two):
        got = place.slots(resources=list(two), **{"from": iso(at(0, 10)), "to": iso(at(0, 11))})
        assert [[r["id"] for r in s["resources"]] for s in got] == [[two[1]]]


class TestAvailabilityDetails:
    def test_busy_time_buffer_and_increments(self, place):
        place.set(buffer="30 minutes")
        place.book(at(0, 10), at(0, 11), who=place.owner)
        window = {"from": iso(at(0, 8)), "to": iso(at(0, 14))}
        hourly = [s["start"][11:16] for s in place.slots(**window)]
        assert hourly == ["08:00", "12:00", "13:00"]
        half = [s["start"][11:16] for s in place.slots(**window, timeslot_increments="30 minutes")]
        assert half == ["08:00", "08:30", "11:30", "12:00", "12:30", "13:00"]
        wider = [s["start"][11:16] for s in place.slots(**window, buffer="1 hour",
                                                          timeslot_increments="30 minutes")]
        assert wider == ["08:00", "12:00", "12:30", "13:00"]  # the larger buffer wins

    def test_declined_and_initialized_bookings_are_not_busy(self, place):
        booking = place.book(at(0, 10), at(0, 11)).json["data"]
        window = {"from": iso(at(0, 10)), "to": iso(at(0, 11))}
        assert place.slots(**window) == []
        place.client.put(f"/v2/bookings/{booking['id']}/decline", headers=place.owner)
        place.client.post("/v2/bookings", headers=place.booker, json={
            k: v for k, v in booking_body(place.pet, at(0, 10), at(0, 11)).items()
            if k != "action"})
        assert len(place.slots(**window)) == 1

    def test_relative_from_and_to_respect_notice(self, place):
        place.set(min_booking_notice="3 hours")
        got = starts(place.slots(**{"from": "now", "to": "1 day"}))
        now = dt.datetime.now(UTC)
        assert got and got[0] >= now + dt.timedelta(hours=3)
        assert got[-1] <= now + dt.timedelta(days=1)
        assert all(m.minute == 0 for m in got)

    def test_length_and_max_booking_length(self, place):
        place.set(max_booking_length="2 hours")
        window = {"from": iso(at(0, 0)), "to": iso(at(0, 6))}
        assert len(place.slots(**window, length="2 hours")) == 3
        assert place.slots(**window, length="3 hours") == []

    def test_findtime(self, place, api):
        other = api.add_pet(place.owner)["id"]
        place.set(min_booking_notice="0 minutes")
        response = place.client.post("/v2/findtime", json={
            "resources": [place.pet, other], "future": "1 day", "length": "1 hour"})
        assert response.status_code == 200, response.json
        got = response.json["data"]
        assert 23 <= len(got) <= 24
        assert all([r["id"] for r in s["resources"]] == [place.pet, other] for s in got)
        every = place.client.post("/v2/findtime", json={
            "resources": [place.pet], "future": "1 day", "all_solutions": True}).json["data"]
        gaps = {b - a for a, b in zip(starts(every), starts(every)[1:], strict=False)}
        assert gaps == {dt.timedelta(minutes=15)}


class TestBadInput:
    @pytest.mark.parametrize(("change", "field"), [
        ({"constraints": [{"allow_everything": {}}]}, "constraints"),
        ({"constraints": [{"allow_hours": {"start": 9, "end": 17, "tz": "x"}}]}, "constraints"),
        ({"from": "2027-01-02T00:00:00Z", "to": "2027-01-01T00:00:00Z"}, "to"),
        ({"from": "1 week", "to": "1 day"}, "to"),
        ({"resources": list(range(1, 52))}, "resources"),
        ({"resources": []}, "resources"),
        ({"resources": [999]}, "resources"),
        ({"resources": None}, "resources"),
        ({"to": "7 months"}, "to"),
        ({"from": "2027-01-01T00:00:00Z", "to": "2027-07-02T00:00:00Z"}, "to"),
        ({"output_timezone": "Mars/Base"}, "output_timezone"),
        ({"output_timezone": "Europe"}, "output_timezone"),
        ({"mode": "fastest"}, "mode"),
        ({"length": "1 eon"}, "length"), ({"length": "0 minutes"}, "length"),
        ({"length": "1 month"}, "length"),
        ({"timeslot_increments": "0 minutes"}, "timeslot_increments"),
        ({"buffer": "1 month"}, "buffer"),
        ({"from": "yesterday"}, "from"), ({"from": "2027-01-01T00:00:00"}, "from"),
        ({"to": 5}, "to"), ({"unknown": 1}, "unknown"),
        ({"from": "9999999 months"}, "from"), ({"to": "9999999 weeks"}, "to"),
        ({"from": "0001-01-01T00:00:00Z"}, "from"),
        ({"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, "from"),
        ({"length": "9999999 weeks"}, "length"), ({"buffer": "9999999 minutes"}, "buffer"),
        ({"timeslot_increments": "13 months"}, "timeslot_increments"),
        ({"to": "6 months", "timeslot_increments": "1 minute"}, "timeslot_increments"),
        ({"to": "6 months", "length": "1 minute"}, "length"),
    ])
    def test_400_naming_the_field(self, place, change, field):
        body = {"resources": [place.pet], **change}
        body = {k: v for k, v in body.items() if v is not None}
        response = place.client.post("/v2/availability", json=body)
        assert response.status_code == 400, response.json
        assert field in response.json["errors"], response.json

    @pytest.mark.parametrize(("change", "field"), [
        ({"future": "7 months"}, "future"), ({"future": "soon"}, "future"),
        ({"resources": [999]}, "resources"), ({"resources": None}, "resources"),
        ({"all_solutions": "maybe"}, "all_solutions"), ({"length": "0 hours"}, "length"),
    ])
    def test_findtime_400_naming_the_field(self, place, change, field):
        body = {k: v for k, v in {"resources": [place.pet], **change}.items() if v is not None}
        response = place.client.post("/v2/findtime", json=body)
        assert response.status_code == 400, response.json
        assert field in response.json["errors"], response.json


# --- end to end through waitress ----------------------------------------------------------------

def test_a_slot_availability_offered_can_be_booked(live_server):
    url = live_server.url
    owner, booker, rival = (bearer(http_token(url, name)) for name in ("owner", "booker",
                                                                        "rival"))
    pet = requests.post(f"{url}/pet", json={"name": "Rex", "photoUrls": []}, headers=owner,
                        timeout=30).json()["id"]
    settings = requests.put(f"{url}/resources/{pet}", headers=owner, timeout=30, json={
        "timezone": "Europe/Oslo", "graphs": ["instant"], "min_booking_notice": "2 hours",
        "max_booking_length": "1 hour", "buffer": "15 minutes",
        "availability_constraints": [{"allow_hours": {"start": 9, "end": 17}},
                                     {"block_weekends": {}}]})
    assert settings.status_code == 200, settings.text
    read = requests.get(f"{url}/resources/{pet}", timeout=30)  # anonymous
    assert read.status_code == 200 and read.json() == settings.json()
    assert requests.put(f"{url}/resources/{pet}", headers=rival, json={"graphs": []},
                        timeout=30).status_code == 403
    assert requests.get(f"{url}/resources/999999", timeout=30).status_code == 404
    found = requests.post(f"{url}/findtime", json={"resources": [pet], "future": "1 week"},
                          timeout=30)
    assert found.status_code == 200 and found.json()["data"], found.text
    assert requests.post(f"{url}/findtime", json={"resources": [pet], "future": "1 year"},
                         timeout=30).json()["errors"].keys() == {"future"}
    ask = {"resources": [pet], "from": "now", "to": "2 weeks", "length": "1 hour",
           "timeslot_increments": "30 minutes", "output_timezone": "Europe/Oslo"}
    offered = requests.post(f"{url}/availability", json=ask, timeout=30)
    assert offered.status_code == 200, offered.text
    slots = offered.json()["data"]
    assert slots and slots[0]["resources"] == [{"id": pet, "name": "Rex"}]
    for slot in (slots[0], slots[len(slots) // 2], slots[-1]):
        body = {"graph": "instant", "action": "confirm", "resource_id": pet,
                "start": slot["start"], "end": slot["end"], "what": "Walk",
                "customer": {"name": "M", "email": "m@example.com"}}
        made = requests.post(f"{url}/bookings", json=body, headers=booker, timeout=30)
        assert made.status_code == 201, made.text
        taken = requests.post(f"{url}/bookings", json=body, headers=rival, timeout=30)
        assert taken.status_code == 409, taken.text
        again = requests.post(f"{url}/availability", json=ask, timeout=30).json()["data"]
        assert slot["start"] not in [s["start"] for s in again]
    # a time availability never offers is refused by the same rules
    sunday = next_monday() - dt.timedelta(days=1) + dt.timedelta(hours=10)
    refused = requests.post(f"{url}/bookings", headers=booker, timeout=30, json={
        "graph": "instant", "action": "confirm", "resource_id": pet, "start": iso(sunday),
        "end": iso(sunday + dt.timedelta(hours=1)), "what": "W",
        "customer": {"name": "M", "email": "m@example.com"}})
    assert refused.status_code == 400 and "start" in refused.json()["errors"]


@pytest.fixture
def wide_server(server_database):
    port = free_port()
    server = start_server(waitress_serve_command(port, threads=8), server_database, port)
    yield server
    server.stop()


def test_live_booking_limit_is_exact_under_concurrency(wide_server):
    """Eight creates by one booker on distinct windows, released together, limit 3: exactly
    three are created (the count is read after the per-pet lock)."""
    url = wide_server.url
    owner = bearer(http_token(url, "owner"))
    booker = bearer(http_token(url, "booker"))
    pet = requests.post(f"{url}/pet", json={"name": "Rex", "photoUrls": []}, headers=owner,
                        timeout=30).json()["id"]
    assert requests.put(f"{url}/resources/{pet}", json={"max_live_bookings_per_booker": 3},
                        headers=owner, timeout=30).status_code == 200
    barrier = threading.Barrier(8)

    def create(hour):
        body = booking_body(pet, at(0, hour), at(0, hour + 1))
        barrier.wait()
        return requests.post(f"{url}/bookings", json=body, headers=booker, timeout=60)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(create, range(8, 16)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [400] * 5, [r.text for r in responses]
    page = requests.get(f"{url}/bookings", headers=owner, timeout=30).json()
    assert page["total"] == 3


def test_demo_data_opens_every_graph_on_the_demo_pets(runner, client, api):
    assert runner.invoke(args=["load-demo"]).exit_code == 0
    for pet_id in (1, 10):
        assert client.get(f"/v2/resources/{pet_id}").json["graphs"] == list(GRAPHS)
    booker = api.user("visitor")
    start = next_monday()
    made = client.post("/v2/bookings", headers=booker, json=booking_body(
        1, start + dt.timedelta(hours=10), start + dt.timedelta(hours=11), graph="instant"))
    assert made.status_code == 201, made.json
    assert runner.invoke(args=["load-demo"]).exit_code == 0  # idempotent, settings kept
    assert client.get("/v2/resources/1").json["graphs"] == list(GRAPHS)
