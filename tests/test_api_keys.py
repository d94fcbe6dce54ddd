"""API keys (issue 17, contract section 3 "API keys"): creation, listing, deletion, every
credential form, scopes, expiry, revocation (key or user deleted) and ``last_used_at``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
import sqlalchemy as sa

from helpers import (
    basic,
    bearer,
    free_port,
    http_token,
    start_server,
    waitress_serve_command,
)
from timekit_api.database import db
from timekit_api.database.models import Credential

KEY = re.compile(r"^live_api_key_[A-Za-z0-9]{40}$")


def create_key(client, headers, **body):
    response = client.post("/v2/credentials", json={"name": "ci", **body}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def set_key_column(app, key_id, **values):
    with app.app_context():
        db.session.execute(sa.update(Credential).where(Credential.id == key_id).values(**values))
        db.session.commit()


def key_row(app, key_id):
    with app.app_context():
        return db.session.get(Credential, key_id)


def test_create_shows_the_key_once_and_stores_a_digest(app, client, alice):
    data = create_key(client, alice)
    assert KEY.match(data["key"])
    assert set(data) == {"id", "name", "key", "scopes", "created_at", "expires_at",
                         "last_used_at"}
    assert data["scopes"] is None and data["expires_at"] is None
    assert data["last_used_at"] is None
    listed = client.get("/v2/credentials", headers=alice).json["data"]
    assert [c["id"] for c in listed] == [data["id"]] and "key" not in listed[0]
    row = key_row(app, data["id"])
    assert row.digest != data["key"] and data["key"] not in row.digest
    assert len(row.digest) == 64


def test_two_keys_differ(client, alice):
    assert create_key(client, alice)["key"] != create_key(client, alice)["key"]


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"name": "x", "scopes": ["admin"]}, "scopes"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "x", "expires_at": "2099-01-01T00:00:00"}, "expires_at"),
    ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
    ({"name": "x", "extra": 1}, "extra"),
])
def test_invalid_bodies_are_400_naming_the_field(client, alice, body, field):
    response = client.post("/v2/credentials", json=body, headers=alice)
    assert response.status_code == 400, response.json
    assert field in str(response.json.get("errors")), response.json


def test_anonymous_is_401(client):
    assert client.post("/v2/credentials", json={"name": "x"}).status_code == 401
    assert client.get("/v2/credentials").status_code == 401
    assert client.delete("/v2/credentials/1").status_code == 401


@pytest.mark.parametrize("form", ["bearer", "api_key", "api-key", "basic_email",
                                  "basic_username", "basic_empty"])
def test_a_key_works_in_every_form(client, alice, form):
    key = create_key(client, alice)["key"]
    headers = {"bearer": bearer(key), "api_key": {"api_key": key}, "api-key": {"api-key": key},
               "basic_email": basic("alice@example.com", key),
               "basic_username": basic("alice", key), "basic_empty": basic("", key)}[form]
    assert client.get("/v2/user/alice", headers=headers).status_code == 200
    pet = client.post("/v2/pet", json={"name": "k", "photoUrls": []}, headers=headers)
    assert pet.status_code == 200


def test_basic_forms_that_must_fail(client, api, alice):
    api.signup("bob")
    key = create_key(client, alice)["key"]
    assert client.get("/v2/user/alice", headers=basic("bob", key)).status_code == 401
    assert client.get("/v2/user/alice", headers=basic("alice", key + "x")).status_code == 401
    # The empty username is Timekit's form for app keys only, not for session tokens.
    token = alice["Authorization"].split()[1]
    assert client.get("/v2/user/alice", headers=basic("", token)).status_code == 401
    assert client.get("/v2/user/alice", headers=bearer("live_api_key_" + "a" * 40)
                      ).status_code == 401


def test_scoped_keys(client, alice):
    reader = create_key(client, alice, scopes=["read:pets"])
    assert reader["scopes"] == ["read:pets"]
    writer = create_key(client, alice, scopes=["write:pets", "read:pets", "write:pets"])
    assert writer["scopes"] == ["read:pets", "write:pets"]
    body = {"name": "k", "photoUrls": []}
    assert client.post("/v2/pet", json=body, headers=bearer(reader["key"])).status_code == 403
    assert client.post("/v2/pet", json=body, headers=bearer(writer["key"])).status_code == 200
    for key in (reader["key"], writer["key"]):
        # A key with scope limits cannot manage keys (contract: no scope limits needed).
        for method, path, kwargs in (("post", "/v2/credentials", {"json": {"name": "x"}}),
                                     ("get", "/v2/credentials", {}),
                                     ("delete", f"/v2/credentials/{reader['id']}", {})):
            response = getattr(client, method)(path, headers=bearer(key), **kwargs)
            assert response.status_code == 403, (method, response.json)
            assert response.json["type"] == "error"
    assert len(client.get("/v2/credentials", headers=alice).json["data"]) == 2


def test_a_key_without_limits_creates_keys(client, alice):
    key = create_key(client, alice)["key"]
    assert KEY.match(create_key(client, bearer(key))["key"])


def test_oauth_tokens_have_scopes_and_cannot_create_keys(client, api, alice):
    token = client.post("/v2/oauth/token", data={"grant_type": "password",
                                                 "username": "alice",
                                                 "password": "secret-pw"}).json
    response = client.post("/v2/credentials", json={"name": "x"},
                           headers=bearer(token["access_token"]))
    assert response.status_code == 403


def test_expired_key_is_401(app, client, alice):
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    data = create_key(client, alice, expires_at=later)
    assert data["expires_at"].startswith(later[:19])
    assert client.get("/v2/user/alice", headers=bearer(data["key"])).status_code == 200
    set_key_column(app, data["id"], expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    response = client.get("/v2/user/alice", headers=bearer(data["key"]))
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_deleted_key_is_refused_at_once(client, api, alice):
    data = create_key(client, alice)
    other = create_key(client, alice)
    assert client.delete(f"/v2/credentials/{data['id']}", headers=alice).status_code == 200
    assert client.get("/v2/user/alice", headers=bearer(data["key"])).status_code == 401
    assert client.get("/v2/user/alice", headers=bearer(other["key"])).status_code == 200
    assert client.delete(f"/v2/credentials/{data['id']}", headers=alice).status_code == 404


def test_another_users_key_is_not_found(client, api, alice, bob):
    data = create_key(client, alice)
    response = client.delete(f"/v2/credentials/{data['id']}", headers=bob)
    assert response.status_code == 404 and response.json["code"] == 404
    assert client.get("/v2/credentials", headers=bob).json["data"] == []
    assert client.get("/v2/user/alice", headers=bearer(data["key"])).status_code == 200
    assert client.delete("/v2/credentials/abc", headers=alice).status_code == 400


def test_deleting_the_user_revokes_their_keys(app, client, alice):
    data = create_key(client, alice)
    key = bearer(data["key"])
    assert client.delete("/v2/user/alice", headers=key).status_code == 200
    assert client.get("/v2/store/order/1", headers=key).status_code == 401
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Credential)) == 0


def test_logout_with_a_key_revokes_that_key(client, alice):
    data = create_key(client, alice)
    assert client.get("/v2/user/logout", headers=bearer(data["key"])).status_code == 200
    assert client.get("/v2/user/alice", headers=bearer(data["key"])).status_code == 401
    assert client.get("/v2/user/alice", headers=alice).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(app, client, alice):
    data = create_key(client, alice)
    headers = bearer(data["key"])
    client.get("/v2/user/alice", headers=headers)
    first = key_row(app, data["id"]).last_used_at
    assert first is not None
    client.get("/v2/user/alice", headers=headers)
    assert key_row(app, data["id"]).last_used_at == first  # within the minute: no write
    thirty_seconds_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    set_key_column(app, data["id"], last_used_at=thirty_seconds_ago)
    client.get("/v2/user/alice", headers=headers)
    assert key_row(app, data["id"]).last_used_at == thirty_seconds_ago
    two_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    set_key_column(app, data["id"], last_used_at=two_minutes_ago)
    client.get("/v2/user/alice", headers=headers)
    assert key_row(app, data["id"]).last_used_at > thirty_seconds_ago
    listed = client.get("/v2/credentials", headers=alice).json["data"][0]
    assert listed["last_used_at"] is not None


# --- end to end: real waitress ------------------------------------------------------------------

@pytest.mark.e2e
def test_every_form_through_waitress(live_server):
    url = live_server.url
    login = bearer(http_token(url, "neo"))
    created = requests.post(f"{url}/credentials", json={"name": "ci"}, headers=login, timeout=30)
    assert created.status_code == 201, created.text
    key = created.json()["data"]["key"]
    for headers in (bearer(key), {"api_key": key}, {"api-key": key},
                    basic("neo@example.com", key), basic("neo", key), basic("", key)):
        response = requests.get(f"{url}/user/neo", headers=headers, timeout=30)
        assert response.status_code == 200, (headers, response.text)
    scoped = requests.post(f"{url}/credentials", json={"name": "r", "scopes": ["read:pets"]},
                           headers=login, timeout=30).json()["data"]["key"]
    assert requests.post(f"{url}/pet", json={"name": "x", "photoUrls": []},
                         headers={"api_key": scoped}, timeout=30).status_code == 403
    assert requests.post(f"{url}/credentials", json={"name": "x"},
                         headers={"api_key": scoped}, timeout=30).status_code == 403


@pytest.mark.e2e
def test_revocation_is_seen_at_once_by_another_instance(server_database):
    ports = [free_port(), free_port()]
    servers = [start_server(waitress_serve_command(port), server_database, port)
               for port in ports]
    try:
        first, second = (server.url for server in servers)
        login = bearer(http_token(first, "trinity"))
        data = requests.post(f"{first}/credentials", json={"name": "ci"}, headers=login,
                             timeout=30).json()["data"]
        key = {"api_key": data["key"]}
        assert requests.get(f"{second}/user/trinity", headers=key, timeout=30).status_code == 200
        assert requests.delete(f"{first}/credentials/{data['id']}", headers=login,
                               timeout=30).status_code == 200
        assert requests.get(f"{second}/user/trinity", headers=key, timeout=30).status_code == 401
        other = requests.post(f"{second}/credentials", json={"name": "ci2"}, headers=login,
                              timeout=30).json()["data"]["key"]
        assert requests.get(f"{first}/user/trinity", headers=bearer(other),
                            timeout=30).status_code == 200
        assert requests.delete(f"{second}/user/trinity", headers=bearer(other),
                               timeout=30).status_code == 200
        assert requests.get(f"{first}/store/inventory", timeout=30).status_code == 200
        assert requests.get(f"{first}/credentials", headers=bearer(other),
                            timeout=30).status_code == 401
    finally:
        for server in servers:
            server.stop()
