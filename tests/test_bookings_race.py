"""No overlap under concurrency, end to end: real waitress servers, real threads, HTTP only.

Eight requests for the same pet and window are released together; the database (the
per-pet lock of booking/engine.py) must let exactly one through, and answer the others
409, never 5xx.
"""

from __future__ import annotations

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

RACERS = 8
WINDOW = {"start": "2030-05-01T10:00:00+02:00", "end": "2030-05-01T11:00:00+02:00"}


def sign_up(url: str, username: str) -> dict:
    return bearer(http_token(url, username))


def setup_pet(url: str) -> tuple[dict, list[dict], int]:
    owner = sign_up(url, "owner")
    bookers = [sign_up(url, f"booker{i}") for i in range(RACERS)]
    pet = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []}, headers=owner,
                        timeout=30)
    assert pet.status_code == 200, pet.text
    http_open_for_booking(url, owner, pet.json()["id"])
    return owner, bookers, pet.json()["id"]


def body(pet_id: int, **fields) -> dict:
    return {"graph": "confirm_decline", "resource_id": pet_id, "what": "walk",
            "customer": {"name": "M", "email": "m@example.com"}, **WINDOW, **fields}


def race(calls) -> list[requests.Response]:
    """Run the calls on their own threads, released at the same moment."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_one_winner(responses, ok: int) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [ok] + [409] * (len(responses) - 1), [r.text for r in responses]
    for r in responses:
        assert r.json()["type" if r.status_code == 409 else "data"]


def live_bookings(url: str, owner: dict) -> list[dict]:
    page = requests.get(f"{url}/bookings", params={"search": "state:tentative;state:confirmed"},
                        headers=owner, timeout=30).json()
    return page["data"]


@pytest.fixture
def wide_server(server_database):
    """One waitress with a thread per racer, so all eight requests really run at once."""
    port = free_port()
    server = start_server(waitress_serve_command(port, threads=RACERS), server_database, port)
    yield server
    server.stop()


@pytest.mark.parametrize(("server_fixture", "fields"), [
    ("live_server", {"action": "create"}),  # 4 threads
    ("wide_server", {"graph": "instant", "action": "confirm"}),  # a thread per racer
], ids=["four_threads", "a_thread_each"])
def test_concurrent_creates_one_wins(request, server_fixture, fields):
    url = request.getfixturevalue(server_fixture).url
    owner, bookers, pet = setup_pet(url)
    responses = race([
        (lambda h=h: requests.post(f"{url}/bookings", json=body(pet, **fields),
                                   headers=h, timeout=60))
        for h in bookers])
    assert_one_winner(responses, 201)
    assert len(live_bookings(url, owner)) == 1


def test_concurrent_entry_actions_one_wins(wide_server):
    """Bookings waiting in `initialized` may overlap; entering them races for the pet."""
    url = wide_server.url
    owner, bookers, pet = setup_pet(url)
    waiting = []
    for headers in bookers:
        created = requests.post(f"{url}/bookings", json=body(pet), headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        waiting.append((headers, created.json()["data"]["id"]))
    responses = race([
        (lambda h=h, i=i: requests.put(f"{url}/bookings/{i}/create", headers=h, timeout=60))
        for h, i in waiting])
    assert_one_winner(responses, 200)
    assert len(live_bookings(url, owner)) == 1


def test_two_instances_sharing_one_database(server_database):
    first_port, second_port = free_port(), free_port()
    first = start_server(waitress_serve_command(first_port), server_database, first_port)
    try:
        second = start_server(waitress_serve_command(second_port), server_database,
                              second_port)
        try:
            owner, bookers, pet = setup_pet(first.url)
            urls = [first.url, second.url] * (RACERS // 2)
            responses = race([
                (lambda h=h, u=u: requests.post(f"{u}/bookings",
                                                json=body(pet, action="create"),
                                                headers=h, timeout=60))
                for h, u in zip(bookers, urls, strict=True)])
            assert_one_winner(responses, 201)
            assert len(live_bookings(second.url, owner)) == 1
        finally:
            second.stop()
    finally:
        first.stop()
