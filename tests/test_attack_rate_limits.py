"""API-wide rate limits and the schema check, through real waitress (contract sections 2-4).

The multi-instance test needs Redis: it runs when ``TIMEKIT_TEST_REDIS_URL`` names a
database it may clear (``.ci/run`` sets it), as the PostgreSQL tests run when
``TIMEKIT_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
import time

import pytest
import requests

from helpers import (
    TEST_DATABASE_URL,
    base_config,
    bearer,
    clean_database,
    drop_schema,
    free_port,
    http_token,
    serving_app,
    start_server,
    waitress_serve_command,
)
from timekit_api.http import limits

REDIS_URL = os.environ.get("TIMEKIT_TEST_REDIS_URL")
LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                 "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def limited_server(database_url: str, **settings):
    port = free_port()
    env = {f"TIMEKIT_{name}": str(value) for name, value in settings.items()}
    return start_server(waitress_serve_command(port), database_url, port, **env)


@pytest.fixture
def servers(server_database):
    started = []

    def start(**settings):
        server = limited_server(server_database, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_anonymous_calls_are_limited_per_address_with_headers_and_429(servers):
    server = servers(RATE_LIMIT_ANONYMOUS_PER_HOUR=5)
    answers = [requests.get(f"{server.url}/store/inventory", timeout=30) for _ in range(4)]
    # (the readiness probe of start_server was the first call)
    for response in answers:
        assert response.status_code == 200
        for name in LIMIT_HEADERS:
            assert name in response.headers, name
        assert response.headers["RateLimit-Limit"] == "5"
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 3601  # rounded up
        assert "Retry-After" not in response.headers
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["3", "2", "1", "0"]
    refused = requests.get(f"{server.url}/store/inventory", timeout=30)
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == 429 and body["type"] == "error" and body["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3601
    assert refused.headers["RateLimit-Remaining"] == "0"
    # The health check is not limited (load balancers poll it).
    assert requests.get(f"{server.url}/health", timeout=30).status_code == 200


def test_signed_in_calls_have_their_own_budget_per_account(servers):
    server = servers(RATE_LIMIT_ANONYMOUS_PER_HOUR=1000, RATE_LIMIT_PER_HOUR=3)
    token = http_token(server.url, "alice")
    second = http_token(server.url, "alice", exist_ok=True)
    answers = [requests.get(f"{server.url}/user/alice", headers=bearer(t), timeout=30)
               for t in (token, second, token, second)]
    # Both tokens share alice's budget of 3.
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    # Anonymous calls from the same address still have theirs.
    assert requests.get(f"{server.url}/store/inventory", timeout=30).status_code == 200


@pytest.mark.skipif(not REDIS_URL, reason="set TIMEKIT_TEST_REDIS_URL to a Redis database")
def test_instances_sharing_redis_share_the_limit(server_database):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    first = limited_server(server_database, RATE_LIMIT_ANONYMOUS_PER_HOUR=6,
                           RATE_LIMIT_STORAGE_URL=REDIS_URL)
    second = limited_server(server_database, RATE_LIMIT_ANONYMOUS_PER_HOUR=6,
                            RATE_LIMIT_STORAGE_URL=REDIS_URL)
    try:
        # Two readiness probes counted already; alternate between the instances.
        statuses = [requests.get(f"{server.url}/store/inventory", timeout=30).status_code
                    for server in (first, second, first, second, first, second)]
        assert statuses == [200, 200, 200, 200, 429, 429]
    finally:
        first.stop()
        second.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()


# --- the schema check -------------------------------------------------------------------------

@pytest.fixture
def empty_database(tmp_path):
    """A database without the service's schema (PostgreSQL's test database emptied)."""
    config = base_config(tmp_path)
    if TEST_DATABASE_URL:
        drop_schema(serving_app(config))
    else:
        config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    yield config
    clean_database(serving_app(config))


def test_a_schema_behind_answers_503_with_the_command_to_run(empty_database):
    server = limited_server(empty_database["DATABASE_URL"], AUTO_CREATE_SCHEMA="false")
    try:
        for path in ("/health", "/pet/1", "/store/inventory", "/user/login?username=a&password=b"):
            response = requests.get(server.url + path, timeout=30)
            assert response.status_code == 503, (path, response.text)
            assert int(response.headers["Retry-After"]) > 0
            assert "timekit-api db upgrade" in response.json()["message"]
        serving_app(empty_database)  # `timekit-api db upgrade`, as the message says
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = requests.get(server.url + "/health", timeout=30)
            if health.status_code == 200:
                break
        assert health.status_code == 200
        assert requests.get(server.url + "/store/inventory", timeout=30).status_code == 200
    finally:
        server.stop()


def test_an_unreachable_redis_never_makes_a_request_fail(tmp_path):
    app = serving_app({**base_config(tmp_path), "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:1/0"})
    try:
        response = app.test_client().get("/v2/store/inventory")
        assert response.status_code == 200
        assert "RateLimit-Limit" in response.headers  # counted in memory meanwhile
    finally:
        clean_database(app)


def test_a_failed_shared_store_is_left_alone_for_a_while(monkeypatch, caplog):
    """One failure, one warning; counting goes on in memory, and the shared store is asked
    again only after STORAGE_RETRY_SECONDS (a dead Redis costs no timeout per request)."""
    counted = limits.RateLimits({"RATE_LIMIT_PER_HOUR": 5, "RATE_LIMIT_ANONYMOUS_PER_HOUR": 3,
                                 "RATE_LIMIT_STORAGE_URL": ""})
    attempts = []

    class DeadStore:
        def hit(self, *args):
            attempts.append(args)
            raise ConnectionError("refused")

    counted.shared = DeadStore()
    now = [1000.0]
    monkeypatch.setattr(limits.time, "monotonic", lambda: now[0])
    answers = [counted.count(counted.anonymous, "address:x") for _ in range(4)]
    assert [allowed for allowed, _, _ in answers] == [True, True, True, False]
    assert [remaining for _, _, remaining in answers] == [2, 1, 0, 0]
    assert len(attempts) == 1
    assert [r.message for r in caplog.records if r.name == limits.log.name] == [
        "rate-limit storage failed (ConnectionError); counting in memory for 30 s"]
    now[0] += limits.STORAGE_RETRY_SECONDS
    counted.count(counted.anonymous, "address:x")
    assert len(attempts) == 2
