"""The OpenAPI document is valid, and every response matches what it declares.

An ``after_request`` hook checks each response of a broad tour of the API (every operation,
success and error statuses) against the document: the status must be declared for the
operation (errors may fall back to ``default``), the content type too, and a JSON body must
validate against the declared schema.
"""

from __future__ import annotations

import io

import pytest
from flask import request
from openapi_spec_validator import validate

from helpers import PNG, basic, bearer
from openapi_check import DocumentChecker


def test_document_is_valid_openapi(client):
    document = client.get("/v2/openapi.json").json
    validate(document)
    assert document["openapi"].startswith("3.")


@pytest.mark.parametrize("path", ["/v2/openapi.json", "/v2/swagger.json"])
def test_every_operation_documents_429_and_503_with_retry_after(client, path):
    document = client.get(path).json
    operations = [(method, route, operation) for route, item in document["paths"].items()
                  for method, operation in item.items()
                  if method in ("get", "put", "post", "delete", "patch")]
    assert len(operations) > 40
    for method, route, operation in operations:
        for code in ("429", "503"):
            response = operation["responses"].get(code)
            assert response is not None, f"{method} {route} does not document {code}"
            assert "Retry-After" in response["headers"], f"{method} {route} {code}"


@pytest.fixture
def violations(app):
    found: list[str] = []
    checker = None

    @app.after_request
    def check(response):
        if checker is None:
            return response
        rule = request.url_rule.rule if request.url_rule else None
        found.extend(checker.check(rule, request.method, response.status_code,
                                   response.content_type or "", response.get_data(),
                                   response.headers))
        return response

    checker = DocumentChecker(app.test_client().get("/v2/openapi.json").json)
    return found


def test_checker_notices_a_contradiction(app):
    checker = DocumentChecker(app.test_client().get("/v2/openapi.json").json)
    assert checker.check("/v2/pet/<id:petId>", "GET", 200, "application/json",
                         b'{"name": 5}', {})
    assert checker.check("/v2/pet/<id:petId>", "GET", 418, "application/json", b"{}", {})
    assert checker.check("/v2/store/inventory", "GET", 500, "text/html", b"x", {})
    assert not checker.check("/v2/pet/<id:petId>", "GET", 200, "application/json",
                             b'{"name": "a", "photoUrls": []}', {})


def test_tour_of_the_api_matches_the_document(client, api, violations):
    c = client
    alice = api.user("alice")
    bob = api.user("bob")
    # users and sign-in
    c.post("/v2/user", json={"username": "alice", "password": "password-x"})                  # 409
    c.post("/v2/user", json={"username": "bad name!", "password": "password-x"})              # 400
    c.post("/v2/user", data="nope", content_type="text/plain")                       # 415
    c.get("/v2/user/login", query_string={"username": "alice", "password": "bad"})  # 400
    c.get("/v2/user/login")                                                          # 400
    auth = c.post("/v2/auth", json={"email": "alice@example.com", "password": "secret-pw"})
    c.post("/v2/auth", json={"email": "alice@example.com", "password": "wrong"})     # 401
    c.post("/v2/auth", json=[1])                                                     # 400
    c.post("/v2/oauth/token", data={"grant_type": "password", "username": "alice",
                                    "password": "secret-pw", "scope": "read:pets"})
    c.post("/v2/oauth/token", data={"grant_type": "client_credentials", "username": "a",
                                    "password": "password-b"})                               # 400
    c.post("/v2/oauth/token", json={})                                               # 415
    c.post("/v2/oauth/token", data={"grant_type": "password"})                       # 400
    c.post("/v2/user/createWithArray", json=[{"username": "c1", "password": "password-p"}],
           headers=alice)
    c.post("/v2/user/createWithList", json=[{"username": "c2", "password": "password-p"},
                                            {"username": "c2", "password": "password-p"}],
           headers=alice)                                                            # 409
    c.post("/v2/user/createWithList", json=[{"username": "c3", "password": "password-p"}])   # 401
    c.get("/v2/user/alice", headers=alice)
    c.get("/v2/user/alice", headers=basic("alice", auth.json["data"]["api_token"]))
    c.get("/v2/user/alice", headers=bob)                                             # 403
    c.get("/v2/user/nobody", headers=alice)                                          # 404
    c.get("/v2/user/bad%20name", headers=alice)                                      # 400
    c.put("/v2/user/alice", json={"username": "alice", "firstName": "A"}, headers=alice)
    c.put("/v2/user/alice", json={"username": "bob"}, headers=alice)                 # 409
    c.put("/v2/user/alice", json={"username": 3}, headers=alice)                     # 400
    # pets
    pet = api.add_pet(alice, tags=[{"name": "t1"}], category={"name": "Dogs"})
    pid = pet["id"]
    c.post("/v2/pet", json={"name": "x"}, headers=alice)                             # 405
    c.post("/v2/pet", json={"id": pid, "name": "x", "photoUrls": []}, headers=alice) # 409
    c.post("/v2/pet", data="x", headers=alice)                                       # 415
    c.post("/v2/pet", json={"name": "x", "photoUrls": []})                           # 401
    c.put("/v2/pet", json={"id": pid, "name": "y", "photoUrls": []}, headers=alice)
    c.put("/v2/pet", json={"id": pid, "name": "y", "photoUrls": []}, headers=bob)    # 403
    c.put("/v2/pet", json={"name": "y", "photoUrls": []}, headers=alice)             # 400
    c.put("/v2/pet", json={"id": 999, "name": "y", "photoUrls": []}, headers=alice)  # 404
    c.get("/v2/pet/findByStatus", query_string={"status": ["available", "sold"]})
    c.get("/v2/pet/findByStatus", query_string={"status": "lost"})                   # 400
    c.get("/v2/pet/findByTags", query_string={"tags": "t1,t2"})
    c.get("/v2/pet/findByTags")                                                      # 400
    c.get(f"/v2/pet/{pid}")
    c.get("/v2/pet/abc")                                                             # 400
    c.get("/v2/pet/999")                                                             # 404
    c.post(f"/v2/pet/{pid}", data={"name": "z", "status": "sold"}, headers=alice)
    c.post(f"/v2/pet/{pid}", data={"status": "lost"}, headers=alice)                 # 405
    c.post("/v2/pet/999", data={"name": "z"}, headers=alice)                         # 404
    up = c.post(f"/v2/pet/{pid}/uploadImage", headers=alice, data={
        "additionalMetadata": "m", "file": (io.BytesIO(PNG), "a.png")})
    c.post(f"/v2/pet/{pid}/uploadImage", headers=alice,
           data={"file": (io.BytesIO(b"text"), "a.txt")})                           # 400
    c.post(f"/v2/pet/{pid}/uploadImage", headers=alice, json={})                     # 415
    c.get(up.json["message"].rsplit(" ", 3)[1].rstrip(","))
    c.get(f"/v2/pet/{pid}/images/999")                                               # 404
    c.get("/v2/store/inventory")
    # orders
    order = c.post("/v2/store/order", json={"petId": pid, "quantity": 1,
                                            "shipDate": "2030-01-01T00:00:00Z"}, headers=bob)
    oid = order.json["id"]
    c.post("/v2/store/order", json={"petId": 999}, headers=bob)                      # 400
    c.post("/v2/store/order", json={"id": oid, "petId": pid}, headers=bob)           # 409
    c.get(f"/v2/store/order/{oid}", headers=bob)
    c.get(f"/v2/store/order/{oid}", headers=alice)                                   # 404
    c.get("/v2/store/order/0", headers=bob)                                          # 400
    c.delete(f"/v2/store/order/{oid}", headers=bob)
    c.delete(f"/v2/store/order/{oid}", headers=bob)                                  # 404
    # resource settings and availability
    c.get(f"/v2/resources/{pid}")
    c.get("/v2/resources/999")                                                       # 404
    c.put(f"/v2/resources/{pid}", headers=alice, json={
        "graphs": ["confirm_decline", "instant"], "max_booking_horizon": "1200 months",
        "availability_constraints": [{"allow_hours": {"start": 9, "end": 17}}]})
    c.put(f"/v2/resources/{pid}", headers=bob, json={"graphs": ["instant"]})         # 403
    c.put(f"/v2/resources/{pid}", headers=alice, json={"timezone": "Mars/Base"})     # 400
    c.put(f"/v2/resources/{pid}", json={})                                           # 401
    c.post("/v2/availability", json={"resources": [pid], "to": "3 days",
                                     "output_timezone": "Europe/Oslo"})
    c.post("/v2/availability", json={"resources": [pid], "from": "2 days", "to": "1 day"})
    c.post("/v2/availability", data="x", content_type="text/plain")                  # 415
    c.post("/v2/findtime", json={"resources": [pid], "future": "2 days"})
    c.post("/v2/findtime", json={"resources": [999]})                                # 400
    # bookings
    booking = c.post("/v2/bookings", headers=bob, json={
        "graph": "confirm_decline", "action": "create", "resource_id": pid,
        "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z", "what": "walk",
        "customer": {"name": "Bob", "email": "bob@example.com"}})
    bid = booking.json["data"]["id"]
    c.post("/v2/bookings", headers=bob, json={"graph": "nope"})                      # 400
    c.get("/v2/bookings", headers=bob, query_string={"search": "state:tentative"})
    c.get(f"/v2/bookings/{bid}", headers=alice)
    c.put(f"/v2/bookings/{bid}/complete", headers=alice)                             # 409
    c.put(f"/v2/bookings/{bid}/confirm", headers=bob)                                # 403
    c.put(f"/v2/bookings/{bid}/decline", headers=alice, json={"decline": {"message": "no"}})
    c.delete(f"/v2/bookings/{bid}", headers=bob)
    c.get("/v2/bookings/graphs")
    c.get("/v2/bookings/graphs/instant/diagram", query_string={"format": "svg"})
    c.get("/v2/bookings/graphs/nope")                                                # 404
    # wrong routes and methods, then the end of things
    c.get("/v2/nowhere")                                                             # 404
    c.patch("/v2/pet", json={})                                                      # 405
    c.options("/v2/pet", headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"})
    c.delete(f"/v2/pet/{pid}", headers=bob)                                          # 403
    c.delete(f"/v2/pet/{pid}", headers=alice)
    c.delete("/v2/user/alice", headers=bob)                                          # 403
    token = api.login("bob")
    c.get("/v2/user/logout", headers=bearer(token))
    c.get("/v2/user/logout", headers=bearer(token))                                  # 401
    c.delete("/v2/user/bob", headers=bob)
    for _ in range(12):                                                              # ... 429
        c.get("/v2/user/login", query_string={"username": "alice", "password": "bad"})
    assert violations == []
