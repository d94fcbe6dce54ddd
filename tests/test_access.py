"""The access matrix of contract section 3: every protected operation, for anonymous
callers, another user and the owner, with every credential form."""

import io

import pytest

from helpers import PNG, basic, bearer


def credentials(client, username, form):
    """Headers authenticating ``username`` (password "secret-pw") in one of the seed's forms."""
    password = "secret-pw"
    if form in ("bearer", "api_key", "api-key"):
        token = client.get("/v2/user/login",
                           query_string={"username": username, "password": password}).json
        return bearer(token) if form == "bearer" else {form: token}
    if form in ("basic_email", "basic_username", "auth_token"):
        data = client.post("/v2/auth", json={"email": f"{username}@example.com",
                                             "password": password}).json["data"]
        if form == "auth_token":
            return {"api_key": data["token"]}
        login = data["email"] if form == "basic_email" else username
        return basic(login, data["api_token"])
    if form == "oauth":
        token = client.post("/v2/oauth/token", data={
            "grant_type": "password", "username": username, "password": password}).json
        return bearer(token["access_token"])
    if form.startswith("key_"):  # an API key (issue 17), without scope limits
        login = bearer(client.get("/v2/user/login", query_string={
            "username": username, "password": password}).json)
        key = client.post("/v2/credentials", json={"name": "matrix"},
                          headers=login).json["data"]["key"]
        return {"key_bearer": bearer(key), "key_api_key": {"api_key": key},
                "key_api-key": {"api-key": key},
                "key_basic_email": basic(f"{username}@example.com", key),
                "key_basic_username": basic(username, key),
                "key_basic_empty": basic("", key)}[form]
    raise ValueError(form)


FORMS = ["bearer", "api_key", "api-key", "basic_email", "basic_username", "auth_token", "oauth",
         "key_bearer", "key_api_key", "key_api-key", "key_basic_email", "key_basic_username",
         "key_basic_empty"]


def pet_body(pet_id=None):
    body = {"name": "rex", "photoUrls": []}
    return body if pet_id is None else {**body, "id": pet_id}


# operation: (method, path(ctx), request kwargs(ctx), status for another user or None, ok status)
OPERATIONS = {
    "add pet": ("post", lambda c: "/v2/pet", lambda c: {"json": pet_body()}, None, 200),
    "update pet": ("put", lambda c: "/v2/pet", lambda c: {"json": pet_body(c["pet"])}, 403, 200),
    "form update pet": ("post", lambda c: f"/v2/pet/{c['pet']}",
                        lambda c: {"data": {"name": "z"}}, 403, 200),
    "delete pet": ("delete", lambda c: f"/v2/pet/{c['pet']}", lambda c: {}, 403, 200),
    "upload image": ("post", lambda c: f"/v2/pet/{c['pet']}/uploadImage",
                     lambda c: {"data": {"file": (io.BytesIO(PNG), "x.png")},
                                "content_type": "multipart/form-data"}, 403, 200),
    "place order": ("post", lambda c: "/v2/store/order",
                    lambda c: {"json": {"petId": c["pet"]}}, None, 200),
    "get order": ("get", lambda c: f"/v2/store/order/{c['order']}", lambda c: {}, 404, 200),
    "delete order": ("delete", lambda c: f"/v2/store/order/{c['order']}", lambda c: {}, 404, 200),
    "create with array": ("post", lambda c: "/v2/user/createWithArray",
                          lambda c: {"json": [{"username": "n1", "password": "password-p"}]},
                          None, 200),
    "create with list": ("post", lambda c: "/v2/user/createWithList",
                         lambda c: {"json": [{"username": "n2", "password": "password-p"}]},
                         None, 200),
    "logout": ("get", lambda c: "/v2/user/logout", lambda c: {}, None, 200),
    "get user": ("get", lambda c: "/v2/user/alice", lambda c: {}, 403, 200),
    "update user": ("put", lambda c: "/v2/user/alice",
                    lambda c: {"json": {"username": "alice", "firstName": "A"}}, 403, 200),
    "delete user": ("delete", lambda c: "/v2/user/alice", lambda c: {}, 403, 200),
}


@pytest.fixture
def owned(client, api):
    """alice owns a pet and an order; bob exists."""
    api.signup("alice")
    api.signup("bob")
    headers = bearer(api.login("alice"))
    pet = api.add_pet(headers)["id"]
    order = client.post("/v2/store/order", json={"petId": pet}, headers=headers).json["id"]
    return {"pet": pet, "order": order}


def call(client, name, ctx, headers):
    method, path, kwargs, _, _ = OPERATIONS[name]
    return getattr(client, method)(path(ctx), headers=headers, **kwargs(ctx))


@pytest.mark.parametrize("name", OPERATIONS)
def test_anonymous_is_401_in_error_shape(client, owned, name):
    response = call(client, name, owned, {})
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["type"] == "error"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("name", OPERATIONS)
def test_bad_token_is_401(client, owned, name):
    assert call(client, name, owned, bearer("not-a-token")).status_code == 401


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", [n for n, op in OPERATIONS.items() if op[3]])
def test_another_user_is_refused(client, owned, name, form):
    expected = OPERATIONS[name][3]
    response = call(client, name, owned, credentials(client, "bob", form))
    assert response.status_code == expected
    assert response.json["code"] == expected
    # and the object is still intact for its owner
    alice = credentials(client, "alice", "bearer")
    assert client.get(f"/v2/pet/{owned['pet']}").status_code == 200
    assert client.get(f"/v2/store/order/{owned['order']}", headers=alice).status_code == 200


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_owner_succeeds(client, owned, name, form):
    response = call(client, name, owned, credentials(client, "alice", form))
    # OAuth2 tokens always carry scopes, and managing the account needs a token without.
    expected = 403 if form == "oauth" and name in ACCOUNT_OPERATIONS else OPERATIONS[name][4]
    assert response.status_code == expected, response.json


ACCOUNT_OPERATIONS = {"create with array", "create with list", "get user", "update user",
                      "delete user"}


def test_basic_with_wrong_user_for_token_is_401(client, owned):
    data = client.post("/v2/auth", json={"email": "alice@example.com",
                                         "password": "secret-pw"}).json["data"]
    assert client.get("/v2/user/alice",
                      headers=basic("bob@example.com", data["api_token"])).status_code == 401
    assert client.get("/v2/user/alice",
                      headers=basic("alice@example.com", "secret-pw")).status_code == 401


class TestScopes:
    def token(self, client, scope):
        return client.post("/v2/oauth/token", data={
            "grant_type": "password", "username": "alice", "password": "secret-pw",
            "scope": scope}).json

    def test_read_only_token_cannot_write_pets(self, client, owned):
        token = self.token(client, "read:pets")
        assert token["scope"] == "read:pets"
        response = client.post("/v2/pet", json=pet_body(), headers=bearer(token["access_token"]))
        assert response.status_code == 403
        assert response.json["type"] == "error"

    def test_write_token_writes_pets(self, client, owned):
        token = self.token(client, "read:pets write:pets")["access_token"]
        assert client.post("/v2/pet", json=pet_body(), headers=bearer(token)).status_code == 200

    def test_pet_scopes_do_not_manage_the_account(self, client, owned):
        token = self.token(client, "read:pets write:pets")["access_token"]
        assert client.get("/v2/user/alice", headers=bearer(token)).status_code == 403
