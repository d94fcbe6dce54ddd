"""Access log: one line per request, and never a secret in any log record."""

import logging

from helpers import basic


def test_one_line_per_request_with_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="timekit_api.access")
    response = client.get("/v2/store/inventory", headers={"X-Request-Id": "abc-123"})
    lines = [r.getMessage() for r in caplog.records if r.name == "timekit_api.access"]
    assert lines == ["GET /v2/store/inventory 200 " + lines[0].split(" ")[3] + " id=abc-123"]
    assert response.headers["X-Request-Id"] == "abc-123"


def test_secrets_stay_out_of_every_log_record(client, api, caplog):
    caplog.set_level(logging.DEBUG)
    api.signup("neo", password="hunter2-secret")
    token = api.login("neo", password="hunter2-secret")
    data = client.post("/v2/auth", json={"email": "neo@example.com",
                                         "password": "hunter2-secret"}).json["data"]
    client.get("/v2/user/neo", headers={"api_key": token})
    client.get("/v2/user/neo", headers=basic("neo", data["api_token"]))
    client.get("/v2/user/login?username=neo&password=wrong-secret")
    text = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert "GET /v2/user/login" in text  # the login was logged...
    for secret in ("hunter2-secret", "wrong-secret", token, data["token"], data["api_token"],
                   "password="):
        assert secret not in text  # ...without its query string or any credential
