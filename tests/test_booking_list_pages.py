"""``GET /bookings`` pages reused while right (``domain/booking/list_pages.py``): a repeated
page reads no booking; every write path, a second instance and time passing a due
transition show at once; pages are never shared between viewers, queries or paths.

Runs on SQLite and, with TIMEKIT_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import requests
import sqlalchemy as sa

from helpers import (
    CLOCK_SETTINGS,
    BookingParties,
    base_config,
    bearer,
    clean_database,
    executed_statements,
    http_open_for_booking,
    http_session,
    serving_app,
)
from timekit_api.database import db
from timekit_api.domain.booking import automation, list_pages

FIRST_SLOT, SLOT = dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.timedelta(minutes=15)


@pytest.fixture
def app(tmp_path):
    app = serving_app({**base_config(tmp_path), **CLOCK_SETTINGS})
    yield app
    clean_database(app)


@pytest.fixture(autouse=True)
def no_pages_from_other_tests():
    list_pages.pages.clear()
    yield
    list_pages.pages.clear()


class World(BookingParties):
    def __init__(self, client, api):
        super().__init__(client, api)
        self.set_clock("2029-12-31T10:00:00Z")

    def set_clock(self, now=None, advance=None):
        body = {"now": now} if now else {"advance": advance}
        response = self.client.put("/v2/testing/clock", json=body)
        assert response.status_code == 200, response.json

    def book(self, graph="instant", action="confirm", hour=10, who=None):
        body = {"graph": graph, "action": action, "resource_id": self.pet,
                "start": f"2030-01-01T{hour:02}:00:00+00:00",
                "end": f"2030-01-01T{hour:02}:30:00+00:00", "what": "Walk",
                "customer": {"name": "Marty", "email": "marty@example.com"}}
        response = self.client.post("/v2/bookings", json=body, headers=who or self.booker)
        assert response.status_code == 201, response.json
        return response.json["data"]

    def page(self, query="", who=None):
        response = self.client.get(f"/v2/bookings{query}", headers=who or self.booker)
        assert response.status_code == 200, response.data
        return response


@pytest.fixture
def world(client, api):
    return World(client, api)


def reads_bookings(statements) -> bool:
    return any("FROM bookings" in s or "booking_transitions" in s for s in statements)


def states(response) -> dict[str, str]:
    return {b["id"]: b["state"] for b in response.json["data"]}


def test_a_repeated_page_reads_no_booking(app, world):
    world.book()
    first_statements, first = executed_statements(app, lambda: world.page("?limit=50"))
    again_statements, again = executed_statements(app, lambda: world.page("?limit=50"))
    assert reads_bookings(first_statements)
    assert not reads_bookings(again_statements)
    assert again.data == first.data and again.json["total"] == 1


def test_pages_stay_within_their_memory_budget(app):
    """The least recently used page goes first; a page over MAX_PAGE_BYTES is not kept."""
    cache = list_pages.PageCache(max_memory=250, max_page=120)
    rendered = []

    def page(name, size):
        def render(now):
            rendered.append(name)
            return name.encode().ljust(size, b" ")
        return render

    with app.app_context():
        for name in ("a", "b", "a", "c"):  # a, b, a again (reused), then c: over 250 bytes
            assert cache.get(name, page(name, 100)).startswith(name.encode())
        assert rendered == ["a", "b", "c"]
        cache.get("a", page("a", 100))  # reused: b was the least recently used, it went
        cache.get("b", page("b", 100))
        assert rendered == ["a", "b", "c", "b"]
        cache.get("big", page("big", 121))
        cache.get("big", page("big", 121))
        assert rendered[-2:] == ["big", "big"]
        db.session.remove()


def booking_change(app, world, booking, client):
    """Each way a page's data can change, and the state it should then show."""
    def http_action():
        response = client.put(f"/v2/bookings/{booking['id']}/cancel",
                              headers=world.booker)
        assert response.status_code == 200, response.json

    def core_update():
        with app.app_context():
            db.session.execute(sa.text("UPDATE bookings SET state = 'cancelled' WHERE id = :id"),
                               {"id": booking["id"]})
            db.session.commit()

    def history_deleted():
        with app.app_context():
            db.session.execute(sa.text("DELETE FROM booking_transitions"))
            db.session.commit()

    def pet_deleted():
        assert client.delete(f"/v2/pet/{world.pet}", headers=world.owner).status_code == 200

    def booker_renamed():  # the history names who applied each action
        response = client.put("/v2/user/booker", json={"username": "renamed"},
                              headers=world.booker)
        assert response.status_code == 200, response.json

    return {"http_action": http_action, "core_update": core_update,
            "history_deleted": history_deleted, "pet_deleted": pet_deleted,
            "booker_renamed": booker_renamed}


@pytest.mark.parametrize("path", ["http_action", "core_update", "history_deleted",
                                  "pet_deleted", "booker_renamed"])
def test_every_write_path_shows_at_once(app, world, client, path):
    booking = world.book()
    before = world.page()
    assert states(before) == {booking["id"]: "confirmed"}
    assert len(before.json["data"][0]["transitions"]) == 1
    booking_change(app, world, booking, client)[path]()
    after = world.page()
    if path == "pet_deleted":
        assert after.json["data"] == [] and after.json["total"] == 0
    elif path == "history_deleted":
        assert after.json["data"][0]["transitions"] == []
    elif path == "booker_renamed":
        assert before.json["data"][0]["transitions"][0]["actor"] == "booker"
        assert after.json["data"][0]["transitions"][0]["actor"] == "renamed"
    else:
        assert states(after) == {booking["id"]: "cancelled"}


def test_a_write_by_another_instance_shows_at_once(app, world):
    booking = world.book()
    assert states(world.page()) == {booking["id"]: "confirmed"}
    other = serving_app({**app.config, "DATABASE_URL": app.config["DATABASE_URL"]})
    response = other.test_client().put(f"/v2/bookings/{booking['id']}/cancel",
                                       headers=world.booker)
    assert response.status_code == 200, response.json
    assert states(world.page()) == {booking["id"]: "cancelled"}


def test_time_reaching_a_due_transition_changes_the_page_without_a_write(app, world):
    booking = world.book(graph="instant_payment", action="create")
    assert states(world.page()) == {booking["id"]: "tentative"}
    world.set_clock(advance="4 minutes")
    assert states(world.page()) == {booking["id"]: "tentative"}
    world.set_clock(advance="2 minutes")  # due 5 minutes after creation; no worker ran
    timed_out = world.page()
    assert states(timed_out) == {booking["id"]: "unpaid"}
    assert timed_out.json["data"][0]["transitions"][-1]["action"] == "timeout"
    world.set_clock("2029-12-31T10:03:00Z")  # the test clock moved back, before the due time
    assert states(world.page()) == {booking["id"]: "tentative"}
    world.set_clock("2029-12-31T10:06:00Z")
    with app.app_context():
        assert automation.run_due(settings=app.config) == 1
    assert world.page().json == timed_out.json  # recorded as it was shown


def test_pages_are_kept_per_viewer_query_and_path(app, world):
    first = world.book(graph="confirm_decline", action="create", hour=10)
    second = world.book(graph="instant", action="confirm", hour=12)
    by_booker, by_owner = world.page(), world.page(who=world.owner)
    assert by_booker.json["data"][0]["available_actions"] == ["cancel"]
    assert {"confirm", "decline"} <= set(by_owner.json["data"][0]["available_actions"])
    assert world.page(who=world.stranger).json["data"] == []
    one = world.page("?limit=1")
    assert [b["id"] for b in one.json["data"]] == [first["id"]]
    assert one.json["next_page_url"] == "/v2/bookings?limit=1&page=2"
    assert [b["id"] for b in world.page("?limit=1&page=2").json["data"]] == [second["id"]]
    searched = world.page("?limit=1&search=state:confirmed")
    assert [b["id"] for b in searched.json["data"]] == [second["id"]]
    # The same search written differently: the same bookings, links repeating it as sent.
    spaced = world.page("?limit=1&page=2&search=state: confirmed")
    plain = world.page("?limit=1&page=2&search=state:confirmed")
    assert spaced.json["data"] == plain.json["data"] == []
    assert spaced.json["prev_page_url"].endswith("search=state%3A+confirmed")
    assert plain.json["prev_page_url"].endswith("search=state%3Aconfirmed")
    assert world.page("?limit=1&search=state:tentative").json["data"][0]["id"] == first["id"]
    assert world.page("?limit=1").json == one.json


def test_readers_racing_writers_end_with_every_booking(live_server, tmp_path):
    """Through real waitress: 4 writers book 40 slots while 4 readers list; the first
    list after the writers are done shows all 40."""
    url = live_server.url
    owner = http_session(url, "owner")
    pet = owner.post(f"{url}/pet", json={"name": "Rex", "photoUrls": []}, timeout=30).json()
    http_open_for_booking(url, owner.headers, pet["id"])
    bookers = [http_session(url, f"booker{i}") for i in range(4)]
    done = threading.Event()
    failures = []

    def write(index, session):
        for slot in range(index * 10, index * 10 + 10):  # 15-minute slots, none shared
            start = FIRST_SLOT + dt.timedelta(minutes=15 * slot)
            response = session.post(f"{url}/bookings", json={
                "graph": "instant", "action": "confirm", "resource_id": pet["id"],
                "start": start.isoformat(), "end": (start + SLOT).isoformat(),
                "what": "Walk", "customer": {"name": "M", "email": "m@example.com"}},
                timeout=60)
            if response.status_code != 201:
                failures.append(response.text)

    def read():
        while not done.is_set():
            response = owner.get(f"{url}/bookings?limit=100", timeout=60)
            if response.status_code != 200:
                failures.append(response.text)

    readers = [threading.Thread(target=read) for _ in range(4)]
    writers = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(bookers)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    done.set()
    for thread in readers:
        thread.join(60)
    assert failures == []
    listed = owner.get(f"{url}/bookings?limit=100", timeout=60).json()
    assert listed["total"] == 40 and len(listed["data"]) == 40
    assert requests.get(f"{url}/bookings?limit=100", headers=bearer("nope"),
                        timeout=30).status_code == 401
