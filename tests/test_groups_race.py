"""Seats never exceed max_seats under concurrency, end to end: real waitress servers, real
threads, HTTP only, on SQLite or on PostgreSQL (TIMEKIT_TEST_DATABASE_URL).

Thirty seat requests for a class of ten are released together, on one server and split
across two servers sharing the database; the class's lock (domain/booking/groups.py) must
let exactly ten through and answer the others 409 "The class is full", never 5xx. The
default run does a few trials, the `slow` marker a hundred.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers import (
    bearer,
    free_port,
    http_open_for_booking,
    http_token,
    start_server,
    waitress_serve_command,
)

SEATS, RACERS = 10, 30
CUSTOMER = {"name": "M", "email": "m@example.com"}
TRIALS = [pytest.param(3, id="3_trials"),
          pytest.param(100, id="100_trials", marks=pytest.mark.slow)]


def race(calls) -> list[requests.Response]:
    """Run the calls on their own threads, released at the same moment."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


class Club:
    """A pet's owner and thirty customers, signed up over HTTP."""

    def __init__(self, url: str):
        self.owner = bearer(http_token(url, "owner"))
        self.customers = [bearer(http_token(url, f"customer{i}")) for i in range(RACERS)]
        pet = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []},
                            headers=self.owner, timeout=30)
        assert pet.status_code == 200, pet.text
        self.pet = pet.json()["id"]
        http_open_for_booking(url, self.owner, self.pet)

    def new_class(self, url: str, trial: int) -> str:
        start = dt.datetime(2031, 1, 1, 9, tzinfo=dt.UTC) + dt.timedelta(hours=2 * trial)
        response = requests.post(f"{url}/bookings", headers=self.owner, timeout=30, json={
            "graph": "group_owner", "action": "create", "resource_id": self.pet,
            "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(),
            "what": "Agility", "customer": CUSTOMER, "settings": {"max_seats": SEATS}})
        assert response.status_code == 201, response.text
        return response.json()["data"]["id"]

    def seat_calls(self, urls: list[str], class_id: str):
        graphs = ["group_customer", "group_customer_payment"]

        def seat(url: str, headers: dict, graph: str):
            return lambda: requests.post(
                f"{url}/bookings", headers=headers, timeout=120,
                json={"graph": graph, "related": {"owner_booking_id": class_id},
                      "customer": CUSTOMER})

        return [seat(urls[i % len(urls)], headers, graphs[i % 2])
                for i, headers in enumerate(self.customers)]

    def seats(self, url: str, class_id: str) -> list[dict]:
        response = requests.get(f"{url}/bookings", headers=self.owner, timeout=30, params={
            "search": f"owner_booking_id:{class_id}", "limit": 100})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def current_seats(self, url: str, class_id: str) -> int:
        page = requests.get(f"{url}/bookings/groups", headers=self.customers[0], timeout=30,
                            params={"search": f"resource_id:{self.pet}", "limit": 100}).json()
        [listed] = [c for c in page["data"] if c["id"] == class_id]
        return listed["attributes"]["group_booking"]["current_seats"]

    def cancel(self, url: str, class_id: str) -> requests.Response:
        return requests.put(f"{url}/bookings/{class_id}/cancel", headers=self.owner,
                            timeout=120)


def assert_exactly_full(responses) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * SEATS + [409] * (RACERS - SEATS), [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.json()["message"] == "The class is full"


def run_trials(club: Club, urls: list[str], trials: int) -> None:
    for trial in range(trials):
        class_id = club.new_class(urls[0], trial)
        assert_exactly_full(race(club.seat_calls(urls, class_id)))
        seats = club.seats(urls[-1], class_id)
        assert len(seats) == SEATS
        assert club.current_seats(urls[-1], class_id) == SEATS
        # Cancelling the class frees its customers (and the pet) for the next trial.
        cancelled = club.cancel(urls[0], class_id)
        assert cancelled.status_code == 200, cancelled.text
        assert {s["state"] for s in club.seats(urls[-1], class_id)} == {"cancelled_by_owner"}


@pytest.fixture
def wide_server(server_database):
    """One waitress with ten threads, so many requests really run at once."""
    port = free_port()
    server = start_server(waitress_serve_command(port, threads=10), server_database, port)
    yield server
    server.stop()


@pytest.fixture
def two_servers(server_database):
    servers = []
    try:
        for _ in range(2):
            port = free_port()
            servers.append(start_server(waitress_serve_command(port, threads=8),
                                        server_database, port))
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.e2e
@pytest.mark.parametrize("trials", TRIALS)
def test_thirty_seats_for_ten_places_on_one_server(wide_server, trials):
    run_trials(Club(wide_server.url), [wide_server.url], trials)


@pytest.mark.e2e
@pytest.mark.parametrize("trials", TRIALS)
def test_thirty_seats_for_ten_places_on_two_instances(two_servers, trials):
    urls = [server.url for server in two_servers]
    run_trials(Club(urls[0]), urls, trials)


@pytest.mark.e2e
def test_no_seat_survives_a_class_cancelled_meanwhile(two_servers):
    """Seat requests racing the class's cancellation: whichever order the database picks,
    afterwards no seat holds a place in the cancelled class."""
    urls = [server.url for server in two_servers]
    club = Club(urls[0])
    for trial in range(3):
        class_id = club.new_class(urls[0], trial)
        calls = club.seat_calls(urls, class_id)[:12]
        calls.insert(6, lambda c=class_id: club.cancel(urls[1], c))
        responses = race(calls)
        assert responses[6].status_code == 200, responses[6].text
        seats = responses[:6] + responses[7:]
        assert {r.status_code for r in seats} <= {201, 409}, [r.text for r in seats]
        states = {s["state"] for s in club.seats(urls[0], class_id)}
        assert states <= {"cancelled_by_owner"}, states
        assert sum(r.status_code == 201 for r in seats) == len(club.seats(urls[0], class_id))


@pytest.mark.e2e
def test_a_class_and_a_booking_racing_for_the_pet_one_wins(wide_server):
    url = wide_server.url
    club = Club(url)
    for trial in range(3):
        day = f"2032-01-0{trial + 1}"
        class_body = {"graph": "group_owner", "action": "create", "resource_id": club.pet,
                      "start": f"{day}T10:00:00Z", "end": f"{day}T11:00:00Z", "what": "A",
                      "customer": CUSTOMER, "settings": {"max_seats": 3}}
        booking_body = {"graph": "instant", "action": "confirm", "resource_id": club.pet,
                        "start": f"{day}T10:30:00Z", "end": f"{day}T11:30:00Z", "what": "B",
                        "customer": CUSTOMER}
        calls = [lambda b=class_body: requests.post(f"{url}/bookings", json=b,
                                                    headers=club.owner, timeout=60)]
        calls += [lambda h=h, b=booking_body: requests.post(f"{url}/bookings", json=b,
                                                            headers=h, timeout=60)
                  for h in club.customers[:5]]
        statuses = sorted(r.status_code for r in race(calls))
        assert statuses == [201] + [409] * 5, statuses
