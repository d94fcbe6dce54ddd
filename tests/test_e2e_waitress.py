"""End to end: real waitress processes on 127.0.0.1, real HTTP with requests."""

import pytest
import requests

from helpers import PNG, basic, bearer, cli_serve_command, free_port, http_token, start_server


def test_main_flow_of_every_operation(live_server):
    url = live_server.url
    auth = bearer(http_token(url, "neo"))

    pet = requests.post(f"{url}/pet", headers=auth, json={
        "name": "rex", "photoUrls": [], "status": "available",
        "category": {"name": "Dogs"}, "tags": [{"name": "good"}]}).json()
    assert requests.get(f"{url}/pet/{pet['id']}").json() == pet
    assert requests.put(f"{url}/pet", headers=auth,
                        json={**pet, "status": "pending"}).json()["status"] == "pending"
    pending = requests.get(f"{url}/pet/findByStatus", params={"status": ["pending", "sold"]})
    assert [p["id"] for p in pending.json()] == [pet["id"]]
    assert [p["id"] for p in requests.get(f"{url}/pet/findByTags",
                                          params={"tags": "good,bad"}).json()] == [pet["id"]]
    assert requests.post(f"{url}/pet/{pet['id']}", headers=auth,
                         data={"name": "max"}).status_code == 200
    upload = requests.post(f"{url}/pet/{pet['id']}/uploadImage", headers=auth,
                           data={"additionalMetadata": "side"},
                           files={"file": ("x.png", PNG, "text/plain")})
    assert upload.status_code == 200 and upload.json()["code"] == 200
    photo = requests.get(f"{url}/pet/{pet['id']}").json()["photoUrls"][-1]
    image = requests.get(f"http://127.0.0.1:{live_server.port}{photo}")
    assert image.content == PNG and image.headers["Content-Type"] == "image/png"

    assert requests.get(f"{url}/store/inventory").json() == {"available": 0, "pending": 1,
                                                              "sold": 0}
    order = requests.post(f"{url}/store/order", headers=auth, json={"petId": pet["id"]}).json()
    assert requests.get(f"{url}/store/order/{order['id']}", headers=auth).json() == order
    assert requests.delete(f"{url}/store/order/{order['id']}", headers=auth).status_code == 200

    batch = requests.post(f"{url}/user/createWithList", headers=auth,
                          json=[{"username": "u1", "password": "password-p"}])
    assert batch.status_code == 200
    assert requests.put(f"{url}/user/neo", headers=auth,
                        json={"username": "neo", "lastName": "A"}).json()["lastName"] == "A"
    assert requests.get(f"{url}/user/neo", headers=auth).json()["lastName"] == "A"
    assert requests.delete(f"{url}/pet/{pet['id']}", headers=auth).status_code == 200
    assert requests.get(f"{url}/user/logout", headers=auth).status_code == 200
    assert requests.get(f"{url}/user/neo", headers=auth).status_code == 401


def test_timekit_auth_and_oauth_over_http(live_server):
    url = live_server.url
    http_token(url, "neo")
    data = requests.post(f"{url}/auth", json={"email": "neo@example.com",
                                              "password": "secret-pw"}).json()["data"]
    assert requests.get(f"{url}/user/neo",
                        headers=basic("neo@example.com", data["api_token"])).status_code == 200
    oauth = requests.post(f"{url}/oauth/token", data={
        "grant_type": "password", "username": "neo", "password": "secret-pw"}).json()
    # OAuth2 tokens carry scopes: they read and write pets, never manage the account.
    assert requests.get(f"{url}/pet/findByStatus",
                        headers=bearer(oauth["access_token"])).status_code == 200
    assert requests.get(f"{url}/user/neo",
                        headers=bearer(oauth["access_token"])).status_code == 403


@pytest.mark.parametrize("header", ["api_key", "api-key"])
def test_api_key_header_through_plain_waitress_serve(live_server, header):
    """``live_server`` is plain ``waitress-serve wsgi:app``."""
    url = live_server.url
    token = http_token(url, "neo")
    response = requests.post(f"{url}/pet", headers={header: token},
                             json={"name": "k", "photoUrls": []})
    assert response.status_code == 200, response.text
    assert requests.delete(f"{url}/pet/{response.json()['id']}",
                           headers={header: token}).status_code == 200


def test_api_key_header_through_readme_command(server_database):
    port = free_port()
    server = start_server(cli_serve_command(port), server_database, port)
    try:
        token = http_token(server.url, "neo")
        response = requests.get(f"{server.url}/user/neo", headers={"api_key": token})
        assert response.status_code == 200, response.text
    finally:
        server.stop()


def test_other_underscore_headers_are_still_dropped(live_server):
    url = live_server.url
    token = http_token(url, "neo")
    # A token smuggled in another underscore header must not authenticate.
    response = requests.get(f"{url}/user/neo", headers={"api_key_x": token})
    assert response.status_code == 401


def test_errors_over_http(live_server):
    url = live_server.url
    missing = requests.get(f"{url}/nothing")
    assert missing.status_code == 404 and missing.json()["type"] == "error"
    wrong = requests.delete(f"{url}/store/inventory")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    preflight = requests.options(f"{url}/pet", headers={
        "Origin": "https://x.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "api_key"})
    assert preflight.status_code == 200
    assert "api_key" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_docs_page_and_document(live_server):
    page = requests.get(f"{live_server.url}/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert requests.get(f"{live_server.url}/docs/assets/swagger-ui-bundle.js").status_code == 200
    spec = requests.get(f"{live_server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/v2/pet/{petId}" in spec["paths"]
