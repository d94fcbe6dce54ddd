# ruff: noqa: B023  (each lambda runs within its own loop turn, through together())
"""Races answer 404 or 409, never 500 (contract section 2), through real waitress.

Each pair of requests is released together at least 20 times; only the statuses the
contract allows are accepted, and where it says so exactly (two deletes: one 200, one 404)
that is checked too. The row locks of ``database.lock_row`` and the booking engine's
per-pet lock are what these prove.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers import PASSWORD, bearer, http_sign_in, http_sign_up

RUNS = 20
WINDOW = {"start": "2030-05-01T10:00:00+02:00", "end": "2030-05-01T11:00:00+02:00"}


def together(*calls) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def owner(live_server):
    http_sign_up(live_server.url, "owner")
    session = requests.Session()
    session.headers.update(bearer(http_sign_in(live_server.url, "owner")))
    return session


def new_pet(url: str, owner) -> int:
    response = owner.post(f"{url}/pet", json={"name": "rex", "photoUrls": []}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def confirmed_booking(url: str, owner, pet_id: int) -> str:
    response = owner.post(f"{url}/bookings", timeout=30, json={
        "graph": "instant", "action": "confirm", "resource_id": pet_id, "what": "walk",
        "customer": {"name": "M", "email": "m@example.com"}, **WINDOW})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


def test_two_deletes_of_one_pet_one_200_one_404(live_server, owner):
    url = live_server.url
    for _ in range(RUNS):
        pet_id = new_pet(url, owner)
        answers = together(lambda: owner.delete(f"{url}/pet/{pet_id}", timeout=60),
                           lambda: owner.delete(f"{url}/pet/{pet_id}", timeout=60))
        assert sorted(statuses(answers)) == [200, 404], [r.text for r in answers]


def test_put_pet_racing_delete_pet(live_server, owner):
    url = live_server.url
    for _ in range(RUNS):
        pet_id = new_pet(url, owner)
        put, delete = together(
            lambda: owner.put(f"{url}/pet", json={"id": pet_id, "name": "new",
                                                  "photoUrls": []}, timeout=60),
            lambda: owner.delete(f"{url}/pet/{pet_id}", timeout=60))
        assert delete.status_code == 200, delete.text
        assert put.status_code in (200, 404), put.text


def test_form_update_racing_delete_pet(live_server, owner):
    url = live_server.url
    for _ in range(RUNS):
        pet_id = new_pet(url, owner)
        form, delete = together(
            lambda: owner.post(f"{url}/pet/{pet_id}", data={"name": "new"},
                               timeout=60),
            lambda: owner.delete(f"{url}/pet/{pet_id}", timeout=60))
        assert delete.status_code == 200, delete.text
        assert form.status_code in (200, 404), form.text


def test_delete_pet_racing_a_booking_cancel(live_server, owner):
    url = live_server.url
    for _ in range(RUNS):
        pet_id = new_pet(url, owner)
        booking_id = confirmed_booking(url, owner, pet_id)
        delete, cancel = together(
            lambda: owner.delete(f"{url}/pet/{pet_id}", timeout=60),
            lambda: owner.put(f"{url}/bookings/{booking_id}/cancel", timeout=60))
        assert delete.status_code == 200, delete.text
        assert cancel.status_code in (200, 404), cancel.text


def test_delete_booking_racing_a_cancel(live_server, owner):
    url = live_server.url
    pet_id = new_pet(url, owner)
    for _ in range(RUNS):
        booking_id = confirmed_booking(url, owner, pet_id)
        delete, cancel = together(
            lambda: owner.delete(f"{url}/bookings/{booking_id}", timeout=60),
            lambda: owner.put(f"{url}/bookings/{booking_id}/cancel", timeout=60))
        # The delete waits for a final state (409) or comes after the cancel (204); the
        # cancel finds the booking (200) or it is gone (404).
        assert delete.status_code in (204, 409), delete.text
        assert cancel.status_code in (200, 404), cancel.text
        if delete.status_code == 409:
            assert owner.delete(f"{url}/bookings/{booking_id}", timeout=60).status_code == 204


def test_two_deletes_of_one_order_one_200_one_404(live_server, owner):
    url = live_server.url
    pet_id = new_pet(url, owner)
    for _ in range(RUNS):
        order = owner.post(f"{url}/store/order", json={"petId": pet_id}, timeout=30).json()
        answers = together(lambda: owner.delete(f"{url}/store/order/{order['id']}"),
                           lambda: owner.delete(f"{url}/store/order/{order['id']}"))
        assert sorted(statuses(answers)) == [200, 404], [r.text for r in answers]


def test_put_user_racing_delete_user(live_server):
    url = live_server.url
    for run in range(RUNS):
        name = f"racer{run}"
        http_sign_up(url, name)
        headers = bearer(http_sign_in(url, name))
        put, delete = together(
            lambda: requests.put(f"{url}/user/{name}", headers=headers,
                                 json={"username": name, "firstName": "New"}, timeout=60),
            lambda: requests.delete(f"{url}/user/{name}", headers=headers,
                                    timeout=60))
        assert delete.status_code == 200, delete.text
        # Losing to the delete: the user is gone (404) or the token with them (401).
        assert put.status_code in (200, 401, 404), put.text


def test_two_deletes_of_one_user(live_server):
    url = live_server.url
    for run in range(RUNS):
        name = f"twice{run}"
        http_sign_up(url, name)
        headers = bearer(http_sign_in(url, name))
        answers = together(
            lambda: requests.delete(f"{url}/user/{name}", headers=headers,
                                    timeout=60),
            lambda: requests.delete(f"{url}/user/{name}", headers=headers,
                                    timeout=60))
        assert sorted(statuses(answers)) in ([200, 401], [200, 404]), [r.text for r in answers]
        assert PASSWORD  # the account is gone: nobody signs in as it again
        assert requests.get(f"{url}/user/login", params={"username": name,
                                                         "password": PASSWORD}).status_code == 400
