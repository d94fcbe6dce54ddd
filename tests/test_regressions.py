"""Bugs found by the generated client, the document checks and the fuzzer, one test each."""

from __future__ import annotations

import pytest


def resolve(document: dict, schema: dict) -> dict:
    """The object schema behind ``schema`` (through ``$ref`` and array ``items``)."""
    while "$ref" in schema or schema.get("type") == "array":
        schema = (schema["items"] if "$ref" not in schema else
                  document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


class TestUserResponsesDoNotPromisePassword:
    """openapi-python-client: `User.from_dict` raised KeyError('password') on every user
    response, because one `User` schema required the write-only password in both directions."""

    def test_user_responses_declare_no_password(self, client):
        document = client.get("/v2/openapi.json").json
        for path, method in [("/v2/user", "post"), ("/v2/user/createWithArray", "post"),
                             ("/v2/user/createWithList", "post"),
                             ("/v2/user/{username}", "get"), ("/v2/user/{username}", "put")]:
            schema = document["paths"][path][method]["responses"]["200"]["content"][
                "application/json"]["schema"]
            schema = resolve(document, schema)
            assert "password" not in schema["properties"], (path, method)
            assert "password" not in schema.get("required", []), (path, method)

    def test_user_requests_still_require_password(self, client):
        document = client.get("/v2/openapi.json").json
        body = document["paths"]["/v2/user"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]
        assert "password" in resolve(document, body)["required"]


def test_every_operation_is_filed_under_a_seed_tag(client):
    """Swagger UI grouped the operations under `auth`, `pet`, `store`, `user` (the blueprint
    names) while the document's tag list named Authentication, Booking, Store, User."""
    document = client.get("/v2/openapi.json").json
    declared = [tag["name"] for tag in document["tags"]]
    used = {(path, method): tuple(operation["tags"])
            for path, item in document["paths"].items() for method, operation in item.items()
            if isinstance(operation, dict) and "responses" in operation}
    assert used and all(len(tags) == 1 and tags[0] in declared for tags in used.values()), used
    assert used[("/v2/pet", "post")] == ("Booking",)
    assert used[("/v2/auth", "post")] == ("Authentication",)


def test_oauth_errors_match_their_documented_schema(client):
    """RFC 6749's `error` and `error_description` broke the documented Error schema (which
    allows no other properties) on every failed password grant."""
    document = client.get("/v2/openapi.json").json
    declared = document["paths"]["/v2/oauth/token"]["post"]["responses"]["400"]["content"][
        "application/json"]["schema"]
    properties = resolve(document, declared)["properties"]
    response = client.post("/v2/oauth/token", data={"grant_type": "password", "username": "a",
                                                    "password": "password-b"})
    assert response.status_code == 400
    assert set(response.json) <= set(properties)
    assert {"error", "error_description", "code", "message"} <= set(properties)


def test_empty_tag_object_is_invalid_input_not_a_crash(client, api, alice):
    """schemathesis: `"tags": [{}]` on POST /pet raised AttributeError (500)."""
    body = {"name": "x", "photoUrls": [], "tags": [{}]}
    created = client.post("/v2/pet", json=body, headers=alice)
    pet = api.add_pet(alice)
    updated = client.put("/v2/pet", json={**body, "id": pet["id"]}, headers=alice)
    for response in (created, updated):
        assert response.status_code == 405, response.json
        assert "tag" in response.json["errors"]
    # An empty category still means "no category".
    pet = client.post("/v2/pet", json={"name": "x", "photoUrls": [], "category": {}},
                      headers=alice).json
    assert "category" not in pet


def test_category_created_concurrently_by_another_request_is_reused(app, client, alice,
                                                                    monkeypatch):
    """8 concurrent writers through waitress: POST /pet with a new category or tag name got
    409 "Conflicts with existing data" when another request created the same name between
    the lookup and the insert (unique name). Replays that interleaving deterministically."""
    import sqlalchemy as sa

    from timekit_api.database import db
    from timekit_api.domain import pets

    real = pets._insert_if_absent
    raced = []

    def another_request_wins(model, **values):
        if not raced:  # the first insert of the request, before it holds SQLite's write lock
            raced.append(model)
            with app.app_context(), db.engine.begin() as other:
                other.execute(sa.insert(model).values(name=values["name"]))
        real(model, **values)

    monkeypatch.setattr(pets, "_insert_if_absent", another_request_wins)
    response = client.post("/v2/pet", headers=alice, json={
        "name": "x", "photoUrls": [], "category": {"name": "Dogs"}, "tags": [{"name": "t"}]})
    assert response.status_code == 200, response.json
    assert response.json["category"]["name"] == "Dogs"
    assert [t["name"] for t in response.json["tags"]] == ["t"]
    assert raced


@pytest.mark.parametrize("method, path, kwargs, status", [
    ("get", "/v2/pet/findByTags?tags=a%00b", {}, 400),
    ("get", "/v2/user/login?username=a%00&password=b", {}, 400),
    ("post", "/v2/pet", {"json": {"name": "a\x00", "photoUrls": []}}, 405),
    ("post", "/v2/pet", {"json": {"name": "a", "photoUrls": [], "tags": [{"name": "\x00"}]}},
     405),
    ("post", "/v2/user/createWithList",
     {"json": [{"username": "q", "password": "password-p", "firstName": "x\x00"}]}, 400),
    ("post", "/v2/user", {"json": {"username": "q", "password": "password-p\x00"}}, 400),
])
def test_nul_characters_in_text_are_invalid_input(client, alice, method, path, kwargs, status):
    """schemathesis on PostgreSQL: a NUL character in any text (query, JSON) reached the
    database, which cannot store it: psycopg DataError, a 500."""
    response = getattr(client, method)(path, headers=alice, **kwargs)
    assert response.status_code == status, response.json
    assert response.json["type"] == "error"
    assert "NUL" in str(response.json["errors"])


def test_new_category_and_tag_after_client_chosen_ids(client, alice):
    """Categories and tags are inserted with ON CONFLICT DO NOTHING (see the concurrency test
    above); on PostgreSQL that bypassed the free-id hook, so after a client-chosen id 1 the
    sequence's 1 collided silently and the new name was never stored."""
    first = client.post("/v2/pet", headers=alice, json={
        "name": "a", "photoUrls": [], "category": {"id": 1, "name": "Dogs"},
        "tags": [{"id": 1, "name": "t1"}]})
    assert first.status_code == 200, first.json
    second = client.post("/v2/pet", headers=alice, json={
        "name": "b", "photoUrls": [], "category": {"name": "Cats"}, "tags": [{"name": "t2"}]})
    assert second.status_code == 200, second.json
    assert second.json["category"]["name"] == "Cats" and second.json["category"]["id"] != 1
    assert second.json["tags"][0]["id"] != 1
