"""``Idempotency-Key`` (issue 17, contract section 3 "Idempotency"): replay, mismatch (422),
in flight (409), failures not stored, take-over of abandoned and expired records, the
documentation, and real races through waitress on one and on two instances."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import threading

import pytest
import requests
import sqlalchemy as sa

from helpers import (
    bearer,
    free_port,
    http_token,
    start_server,
    waitress_serve_command,
)
from timekit_api.database import db
from timekit_api.database.models import Booking, Credential, IdempotencyRecord, Order, Pet, User
from timekit_api.domain import idempotency

PET = {"name": "once", "photoUrls": []}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def key(value: str) -> dict:
    return {"Idempotency-Key": value}


def booking_body(pet_id):
    return {"graph": "confirm_decline", "resource_id": pet_id, "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T11:00:00Z", "what": "Walk",
            "customer": {"name": "Marty", "email": "marty@example.com"}}


# path, body(ctx), model counted, signed in
CREATING = {
    "pet": ("/v2/pet", lambda c: PET, Pet, True),
    "order": ("/v2/store/order", lambda c: {"petId": c["pet"]}, Order, True),
    "user": ("/v2/user", lambda c: {"username": "newbie", "password": "secret-pw"}, User, False),
    "createWithArray": ("/v2/user/createWithArray",
                        lambda c: [{"username": "n1", "password": "secret-pw"}], User, True),
    "createWithList": ("/v2/user/createWithList",
                       lambda c: [{"username": "n2", "password": "secret-pw"}], User, True),
    "booking": ("/v2/bookings", lambda c: booking_body(c["pet"]), Booking, True),
    "credential": ("/v2/credentials", lambda c: {"name": "ci"}, Credential, True),
}


@pytest.fixture
def ctx(api, alice):
    return {"pet": api.add_pet(alice)["id"], "headers": alice}


@pytest.mark.parametrize("name", CREATING)
def test_the_same_request_is_answered_once_and_replayed(app, client, ctx, name):
    path, body, model, signed_in = CREATING[name]
    headers = {**(ctx["headers"] if signed_in else {}), **key(f"retry-{name}")}
    before = count(app, model)
    first = client.post(path, json=body(ctx), headers=headers)
    assert first.status_code in (200, 201), first.json
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, model) == before + 1
    for _ in range(2):
        again = client.post(path, json=body(ctx), headers=headers)
        assert again.status_code == first.status_code
        assert again.get_data() == first.get_data()  # the credential's key included
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert count(app, model) == before + 1
    # Without the header the operation runs every time, as before.
    if name in ("pet", "order", "booking", "credential"):
        other = body(ctx) if name != "booking" else {
            **booking_body(ctx["pet"]), "start": "2031-01-01T10:00:00Z",
            "end": "2031-01-01T11:00:00Z"}
        assert client.post(path, json=other, headers=ctx["headers"]).status_code in (200, 201)
        assert count(app, model) == before + 2


@pytest.mark.parametrize("name", CREATING)
def test_the_same_key_with_another_request_is_422(client, ctx, name):
    path, body, _, signed_in = CREATING[name]
    headers = {**(ctx["headers"] if signed_in else {}), **key("k")}
    assert client.post(path, json=body(ctx), headers=headers).status_code in (200, 201)
    changed = client.post(path, data=json.dumps(body(ctx)) + " ", headers=headers,
                          content_type="application/json")
    assert changed.status_code == 422 and changed.json["code"] == 422
    elsewhere = client.post("/v2/pet" if name != "pet" else "/v2/store/order",
                            json=body(ctx), headers={**ctx["headers"], **key("k")})
    if signed_in:
        assert elsewhere.status_code == 422


def test_keys_belong_to_their_caller(app, client, api, ctx, bob):
    assert client.post("/v2/pet", json=PET, headers={**ctx["headers"], **key("k")}).json["id"]
    theirs = client.post("/v2/pet", json=PET, headers={**bob, **key("k")})
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs.headers
    assert count(app, Pet) == 3


def test_a_key_and_a_token_of_one_user_share_keys(client, ctx):
    api_key = client.post("/v2/credentials", json={"name": "ci"},
                          headers=ctx["headers"]).json["data"]["key"]
    first = client.post("/v2/pet", json=PET, headers={**ctx["headers"], **key("shared")})
    again = client.post("/v2/pet", json=PET, headers={**bearer(api_key), **key("shared")})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json


@pytest.mark.parametrize("value", ["", " ", "x" * 256, "caf\u00e9", "tab\there", "\x7f"])
def test_invalid_keys_are_400(client, ctx, value):
    response = client.post("/v2/pet", json=PET,
                           headers={**ctx["headers"], "Idempotency-Key": value})
    assert response.status_code == 400, response.json
    assert "Idempotency-Key" in response.json["errors"]


def test_the_longest_key_is_fine(client, ctx):
    assert client.post("/v2/pet", json=PET, headers={
        **ctx["headers"], **key("~" * 255)}).status_code == 200


def test_a_failed_request_is_not_stored(app, client, ctx):
    headers = {**ctx["headers"], **key("fix-and-retry")}
    assert client.post("/v2/pet", json={"name": "x"}, headers=headers).status_code == 405
    taken = client.post("/v2/pet", json={**PET, "id": ctx["pet"]}, headers=headers)
    assert taken.status_code == 409
    assert count(app, IdempotencyRecord) == 0
    fixed = client.post("/v2/pet", json=PET, headers=headers)
    assert fixed.status_code == 200 and "Idempotent-Replayed" not in fixed.headers


def insert_record(app, user_id, key_value, age: dt.timedelta, completed=False, body=b""):
    with app.app_context():
        db.session.add(IdempotencyRecord(
            caller=f"user:{user_id}", key=key_value, request="POST /v2/pet",
            body_digest=idempotency.body_digest(body), claim="c" * 32, completed=completed,
            status=200 if completed else None, body=b'{"stored": true}' if completed else None,
            headers=json.dumps({"Content-Type": "application/json"}) if completed else None,
            created_at=dt.datetime.now(dt.UTC) - age))
        db.session.commit()


def alice_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == "alice"))


def test_in_flight_is_409_then_taken_over_when_abandoned(app, client, ctx):
    body = json.dumps(PET).encode()
    insert_record(app, alice_id(app), "running", dt.timedelta(seconds=5), body=body)
    response = client.post("/v2/pet", data=body, content_type="application/json",
                           headers={**ctx["headers"], **key("running")})
    assert response.status_code == 409 and response.headers["Retry-After"]
    insert_record(app, alice_id(app), "abandoned", dt.timedelta(seconds=61), body=body)
    response = client.post("/v2/pet", data=body, content_type="application/json",
                           headers={**ctx["headers"], **key("abandoned")})
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    again = client.post("/v2/pet", data=body, content_type="application/json",
                        headers={**ctx["headers"], **key("abandoned")})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == response.json


def test_a_stored_answer_is_replayed_as_stored(app, client, ctx):
    body = json.dumps(PET).encode()
    insert_record(app, alice_id(app), "done", dt.timedelta(hours=23), completed=True, body=body)
    response = client.post("/v2/pet", data=body, content_type="application/json",
                           headers={**ctx["headers"], **key("done")})
    assert response.json == {"stored": True}
    assert response.headers["Idempotent-Replayed"] == "true"


def test_records_expire_after_24_hours(app, client, ctx):
    insert_record(app, alice_id(app), "old", dt.timedelta(hours=25), completed=True,
                  body=b"another body")
    response = client.post("/v2/pet", json=PET, headers={**ctx["headers"], **key("old")})
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    insert_record(app, alice_id(app), "older", dt.timedelta(hours=30), completed=True)
    with app.app_context():
        assert idempotency.purge_expired(dt.datetime.now(dt.UTC), 24 * 3600) == 1
        assert db.session.scalars(sa.select(IdempotencyRecord.key)).all() == ["old"]


def test_the_document_declares_the_header_on_creating_posts_only(client):
    paths = client.get("/v2/openapi.json").json["paths"]
    creating = {("/v2" + CREATING[name][0][3:], "post") for name in CREATING}
    # Contract section 3's list also names these two, whose bodies need a booking or a URL.
    creating |= {("/v2/bookings/{booking_id}/reschedule", "post"), ("/v2/webhooks", "post")}
    for path, operations in paths.items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            names = [p.get("name") for p in operation.get("parameters", [])]
            declared = "Idempotency-Key" in names
            assert declared == ((path, method) in creating), (path, method)
            if declared:
                assert {"409", "422"} <= set(operation["responses"])
                success = next(r for code, r in operation["responses"].items()
                               if code.startswith("2"))
                assert "Idempotent-Replayed" in success["headers"]


# --- real races through waitress ------------------------------------------------------------------

def race(urls, headers, body, n=20, path="/pet"):
    """``n`` identical POSTs released at once, spread over ``urls``; returns the answers."""
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        response = requests.post(f"{urls[i % len(urls)]}{path}", json=body, headers=headers,
                                 timeout=60)
        return response.status_code, response.content, response.headers.get(
            "Idempotent-Replayed")

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def assert_one_write(answers, expected_status):
    done = [(status, content) for status, content, _ in answers if status != 409]
    assert done, answers
    assert {status for status, _ in done} == {expected_status}, answers
    assert len({content for _, content in done}) == 1
    assert sum(1 for status, _, replayed in answers if status != 409 and not replayed) == 1
    assert all(status in (409, expected_status) for status, _, _ in answers)


def pets_named(url, name):
    found = requests.get(f"{url}/pet/findByStatus", params={"status": "pending"}, timeout=30)
    return [p for p in found.json() if p["name"] == name]


@pytest.mark.e2e
def test_twenty_concurrent_identical_requests_write_once(live_server):
    url = live_server.url
    headers = {**bearer(http_token(url, "racer")), **key("race-1")}
    body = {"name": "raced", "photoUrls": [], "status": "pending"}
    answers = race([url], headers, body)
    assert_one_write(answers, 200)
    assert len(pets_named(url, "raced")) == 1
    # Anonymous sign-up keyed by the client address.
    answers = race([url], key("signup-1"), {"username": "raced-user", "password": "secret-pw"},
                   path="/user")
    assert_one_write(answers, 200)


@pytest.mark.e2e
def test_two_instances_share_the_records(server_database):
    ports = [free_port(), free_port()]
    servers = [start_server(waitress_serve_command(port), server_database, port)
               for port in ports]
    try:
        urls = [server.url for server in servers]
        headers = {**bearer(http_token(urls[0], "twin")), **key("race-2")}
        body = {"name": "twinned", "photoUrls": [], "status": "pending"}
        answers = race(urls, headers, body)
        assert_one_write(answers, 200)
        assert len(pets_named(urls[1], "twinned")) == 1
        replay = requests.post(f"{urls[1]}/pet", json=body, headers=headers, timeout=30)
        assert replay.headers["Idempotent-Replayed"] == "true"
        mismatch = requests.post(f"{urls[0]}/pet", json={**body, "name": "other"},
                                 headers=headers, timeout=30)
        assert mismatch.status_code == 422
        credential = race(urls, {**headers, **key("race-3")}, {"name": "ci"}, n=10,
                          path="/credentials")
        assert_one_write(credential, 201)
    finally:
        for server in servers:
            server.stop()

