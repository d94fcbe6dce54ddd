"""Attacks on accounts, through real waitress: no account can be taken over (contract
section 3, "Scopes and account safety")."""

from __future__ import annotations

import base64

import pytest
import requests

from helpers import PASSWORD, basic, bearer, http_sign_in, http_sign_up, http_token

WINDOW = {"start": "2030-05-01T10:00:00+02:00", "end": "2030-05-01T11:00:00+02:00"}


def oauth_token(url: str, username: str, scope: str | None) -> str:
    form = {"grant_type": "password", "username": username, "password": PASSWORD}
    if scope is not None:
        form["scope"] = scope
    response = requests.post(f"{url}/oauth/token", data=form, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()["access_token"]


def fresh_user(url: str, name: str) -> dict:
    http_sign_up(url, name)
    return bearer(http_sign_in(url, name))


# --- scopes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["read:pets", "", "read:pets write:pets"])
def test_a_scoped_token_cannot_manage_the_account(live_server, scope):
    url = live_server.url
    owner = fresh_user(url, "owner")
    pet = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []}, headers=owner,
                        timeout=30).json()
    scoped = bearer(oauth_token(url, "owner", scope))
    refused = [
        requests.put(f"{url}/user/owner", json={"username": "owner", "password": "taken-over!",
                                                "email": "evil@example.com"}, headers=scoped),
        requests.delete(f"{url}/user/owner", headers=scoped),
        requests.get(f"{url}/user/owner", headers=scoped),
        requests.post(f"{url}/user/createWithArray", headers=scoped, json=[
            {"username": "sock", "password": PASSWORD, "email": "sock@example.com"}]),
        requests.post(f"{url}/user", headers=scoped, json={
            "username": "puppet", "password": PASSWORD, "email": "puppet@example.com"}),
    ]
    for response in refused:
        assert response.status_code == 403, (response.request.method, response.request.url,
                                             response.text)
    # The account is untouched: the password still works.
    assert http_sign_in(url, "owner")
    if scope == "read:pets":  # an empty scope asks for the default, both pet scopes
        writes = [
            requests.post(f"{url}/store/order", json={"petId": pet["id"]}, headers=scoped),
            requests.post(f"{url}/bookings", headers=scoped, json={
                "graph": "instant", "resource_id": pet["id"], "what": "walk",
                "customer": {"name": "M", "email": "m@example.com"}, **WINDOW}),
            requests.post(f"{url}/pet", json={"name": "x", "photoUrls": []}, headers=scoped),
            requests.put(f"{url}/pet", json={"id": pet["id"], "name": "x", "photoUrls": []},
                         headers=scoped),
            requests.delete(f"{url}/pet/{pet['id']}", headers=scoped),
        ]
        for response in writes:
            assert response.status_code == 403, (response.request.method, response.text)
    # Reading is what read:pets is for.
    assert requests.get(f"{url}/bookings", headers=scoped, timeout=30).status_code == 200


def test_write_pets_places_orders_and_bookings(live_server):
    url = live_server.url
    owner = fresh_user(url, "owner")
    pet = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []}, headers=owner,
                        timeout=30).json()
    scoped = bearer(oauth_token(url, "owner", "write:pets"))
    assert requests.post(f"{url}/store/order", json={"petId": pet["id"]},
                         headers=scoped).status_code == 200
    assert requests.post(f"{url}/bookings", headers=scoped, json={
        "graph": "instant", "resource_id": pet["id"], "what": "walk",
        "customer": {"name": "M", "email": "m@example.com"}, **WINDOW}).status_code == 201


# --- revocation -----------------------------------------------------------------------------

def test_changing_the_password_revokes_every_other_token(live_server):
    url = live_server.url
    http_sign_up(url, "alice")
    first, second = bearer(http_sign_in(url, "alice")), bearer(http_sign_in(url, "alice"))
    changed = requests.put(f"{url}/user/alice", headers=first, json={
        "username": "alice", "password": "a-new-password", "email": "alice@example.com"})
    assert changed.status_code == 200, changed.text
    assert requests.get(f"{url}/user/alice", headers=second).status_code == 401
    assert requests.get(f"{url}/user/alice", headers=first).status_code == 200
    assert http_sign_in(url, "alice", "a-new-password")


def test_logout_all_revokes_every_token_of_the_caller(live_server):
    url = live_server.url
    http_sign_up(url, "alice")
    tokens = [bearer(http_sign_in(url, "alice")) for _ in range(3)]
    other = fresh_user(url, "bob")
    assert requests.get(f"{url}/user/logout", params={"all": "true"},
                        headers=tokens[0]).status_code == 200
    for headers in tokens:
        assert requests.get(f"{url}/user/alice", headers=headers).status_code == 401
    assert requests.get(f"{url}/user/bob", headers=other).status_code == 200


def test_logging_out_one_token_of_an_auth_pair_revokes_its_sibling(live_server):
    url = live_server.url
    http_sign_up(url, "alice")
    answer = requests.post(f"{url}/auth", json={"email": "alice@example.com",
                                                "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    data = answer.json()["data"]
    assert requests.get(f"{url}/user/logout", headers=bearer(data["token"])).status_code == 200
    assert requests.get(f"{url}/user/alice", headers=basic("alice@example.com",
                                                           data["api_token"])).status_code == 401


# --- one namespace --------------------------------------------------------------------------

def test_no_one_can_sign_up_under_another_accounts_name_or_email(live_server):
    url = live_server.url
    http_sign_up(url, "victim")  # email victim@example.com
    attempts = [
        {"username": "VICTIM", "email": "a1@example.com"},
        {"username": "ｖｉｃｔｉｍ", "email": "a2@example.com"},  # fullwidth: NFKC folds it
        {"username": "attacker1", "email": "VICTIM@EXAMPLE.COM"},
        {"username": "attacker2", "email": "ｖictim@example.com"},
    ]
    for body in attempts:
        response = requests.post(f"{url}/user", json={**body, "password": PASSWORD})
        assert response.status_code in (400, 409), (body, response.text)
    # A username can never be an email: it may not contain "@".
    response = requests.post(f"{url}/user", json={
        "username": "victim@example.com", "email": "x@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "username" in response.json()["errors"]
    # The victim signs in by name (any case) or email and is the only one who can.
    for login in ("victim", "Victim", "VICTIM@example.com"):
        assert requests.get(f"{url}/user/login", params={
            "username": login, "password": PASSWORD}).status_code == 200


def test_passwords_have_at_least_8_characters(live_server):
    url = live_server.url
    response = requests.post(f"{url}/user", json={
        "username": "shorty", "email": "s@example.com", "password": "1234567"})
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    headers = fresh_user(url, "alice")
    response = requests.put(f"{url}/user/alice", headers=headers, json={
        "username": "alice", "password": "short"})
    assert response.status_code == 400


# --- credentials on the wire ----------------------------------------------------------------

def test_two_credentials_that_disagree_are_401(live_server):
    url = live_server.url
    token = http_token(url, "alice")
    wrong_basic = "Basic " + base64.b64encode(b"alice:not-a-token").decode()
    for headers in ({"Authorization": wrong_basic, "api-key": token},
                    {"Authorization": wrong_basic, "api_key": token},
                    {"Authorization": "Bearer not-a-token", "api-key": token},
                    {**bearer(token), "api-key": http_token(url, "bob")}):
        assert requests.get(f"{url}/user/alice", headers=headers).status_code == 401, headers
    assert requests.get(f"{url}/user/alice", headers={**bearer(token), "api-key": token}
                        ).status_code == 200


def test_head_on_login_mints_no_token(live_server):
    url = live_server.url
    http_sign_up(url, "alice")
    response = requests.head(f"{url}/user/login", params={"username": "alice",
                                                          "password": PASSWORD})
    assert response.status_code == 405
    assert "X-Expires-After" not in response.headers


def test_private_answers_say_no_store_and_vary(live_server):
    url = live_server.url
    headers = fresh_user(url, "alice")
    response = requests.get(f"{url}/user/alice", headers=headers)
    assert response.headers["Cache-Control"] == "no-store"
    vary = {v.strip().lower() for v in response.headers["Vary"].split(",")}
    assert {"authorization", "api-key"} <= vary
    login = requests.get(f"{url}/user/login", params={"username": "alice",
                                                       "password": PASSWORD})
    assert login.headers["Cache-Control"] == "no-store"
