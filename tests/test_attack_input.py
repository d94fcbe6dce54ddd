"""Hostile input and small leaks, through real waitress: no input causes a 5xx, nothing
private leaks (contract sections 2, 3 and 9)."""

from __future__ import annotations

import socket

import pytest
import requests

from helpers import bearer, http_token

WINDOW = {"start": "2030-05-01T10:00:00+02:00", "end": "2030-05-01T11:00:00+02:00"}


@pytest.fixture
def alice(live_server):
    return bearer(http_token(live_server.url, "alice"))


def new_pet(url: str, headers) -> int:
    response = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []},
                             headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest.mark.parametrize("ship_date", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                       "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_out_of_range_ship_dates_are_400(live_server, alice, ship_date):
    pet_id = new_pet(live_server.url, alice)
    response = requests.post(f"{live_server.url}/store/order", headers=alice, timeout=30,
                             json={"petId": pet_id, "shipDate": ship_date})
    assert response.status_code == 400, response.text
    assert "shipDate" in response.json()["errors"]


def test_in_range_ship_dates_are_stored(live_server, alice):
    pet_id = new_pet(live_server.url, alice)
    response = requests.post(f"{live_server.url}/store/order", headers=alice, timeout=30,
                             json={"petId": pet_id, "shipDate": "0001-01-02T02:00:00+01:00"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_out_of_range_booking_times_are_400(live_server, alice, start):
    pet_id = new_pet(live_server.url, alice)
    response = requests.post(f"{live_server.url}/bookings", headers=alice, timeout=30, json={
        "graph": "instant", "resource_id": pet_id, "what": "walk", "start": start,
        "end": "2030-01-01T00:00:00Z", "customer": {"name": "M", "email": "m@example.com"}})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("value", ["9223372036854775808", "-1", "0", "99999999999999999999999"])
def test_out_of_range_search_ids_are_400(live_server, alice, value):
    response = requests.get(f"{live_server.url}/bookings", headers=alice, timeout=30,
                            params={"search": f"resource_id:{value}"})
    assert response.status_code == 400, response.text


def test_other_users_order_ids_do_not_leak(live_server, alice):
    url = live_server.url
    pet_id = new_pet(url, alice)
    order = requests.post(f"{url}/store/order", headers=alice, timeout=30,
                          json={"petId": pet_id}).json()
    mallory = bearer(http_token(url, "mallory"))
    probe = requests.post(f"{url}/store/order", headers=mallory, timeout=30,
                          json={"id": order["id"], "petId": pet_id})
    # Not a 409 naming alice's order: mallory's order is placed under another id.
    assert probe.status_code == 200, probe.text
    assert probe.json()["id"] != order["id"]
    assert requests.get(f"{url}/store/order/{order['id']}", headers=mallory,
                        timeout=30).status_code == 404
    assert requests.get(f"{url}/store/order/{order['id']}", headers=alice,
                        timeout=30).json() == order
    # One's own id is a conflict, as for pets.
    again = requests.post(f"{url}/store/order", headers=alice, timeout=30,
                          json={"id": order["id"], "petId": pet_id})
    assert again.status_code == 409


def test_control_characters_in_paths_cannot_forge_log_lines(live_server):
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(b"GET /v2/pet/%0d%0aFORGED%20200%20OK HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 4")
    output = live_server.stop()
    assert "\\x0d\\x0aFORGED" in output
    assert not any(line.startswith("FORGED") for line in output.splitlines())


def test_pagination_links_never_echo_the_host(live_server, alice):
    url = live_server.url
    pet_id = new_pet(url, alice)
    for hour in (10, 12):
        assert requests.post(f"{url}/bookings", headers=alice, timeout=30, json={
            "graph": "instant", "resource_id": pet_id, "what": "walk",
            "start": f"2030-05-01T{hour}:00:00Z", "end": f"2030-05-01T{hour + 1}:00:00Z",
            "customer": {"name": "M", "email": "m@example.com"}}).status_code == 201
    page = requests.get(f"{url}/bookings", params={"limit": 1}, timeout=30,
                        headers={**alice, "Host": "evil.example",
                                 "X-Forwarded-Host": "evil.example"})
    assert page.status_code == 200
    link = page.json()["next_page_url"]
    assert link.startswith("/v2/bookings?") and "evil" not in link
