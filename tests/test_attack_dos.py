"""Attacks on availability, through real waitress: nothing stalls (contract sections 3 and 4).

Each attack runs while a normal client asks for a pet; that client must still be answered
(a generous functional bound: a timeout of many seconds, never a timing assertion).
"""

from __future__ import annotations

import http.client
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from helpers import (
    PASSWORD,
    Api,
    bearer,
    cli_serve_command,
    free_port,
    http_sign_up,
    http_token,
    start_server,
    waitress_serve_command,
)
from timekit_api.domain import accounts
from timekit_api.serving import serving_options
from timekit_api.settings import defaults

ANSWERED_WITHIN = 20  # seconds: "still answered", not a performance figure
SLOW_HASH = "pbkdf2:sha256:400000"  # a few hundred milliseconds per hash here


@pytest.fixture
def serve(server_database):
    """Start ``waitress-serve wsgi:app`` (or ``timekit-api serve`` with ``cli=True``) with
    extra TIMEKIT_* settings; every server is stopped at the end."""
    servers = []

    def start(cli: bool = False, **settings):
        port = free_port()
        command = cli_serve_command(port) if cli else waitress_serve_command(port, threads=8)
        env = {f"TIMEKIT_{name}": str(value) for name, value in settings.items()}
        server = start_server(command, server_database, port, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def add_pet(url: str) -> int:
    owner = bearer(http_token(url, "pet-owner"))
    response = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []},
                             headers=owner, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def normal_request_answered(url: str, pet_id: int) -> None:
    response = requests.get(f"{url}/pet/{pet_id}", timeout=ANSWERED_WITHIN)
    assert response.status_code == 200, response.text


def while_running(attack, check) -> list:
    """Run ``attack`` (returns a list) in the background, ``check`` meanwhile; returns what
    the attack returned."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(attack)
        check()
        return future.result(timeout=300)


def test_batches_past_100_users_are_413_before_any_hashing(serve):
    server = serve(PASSWORD_HASH_METHOD=SLOW_HASH)
    token = http_token(server.url, "batcher")
    batch = [{"username": f"u{i}", "password": PASSWORD, "email": f"u{i}@example.com"}
             for i in range(101)]
    response = requests.post(f"{server.url}/user/createWithArray", json=batch,
                             headers=bearer(token), timeout=ANSWERED_WITHIN)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == 413
    # Nothing was created: another user's record would be 403, no such user is 404.
    assert requests.get(f"{server.url}/user/u0", headers=bearer(token),
                        timeout=30).status_code == 404


def test_a_batch_of_100_is_accepted(live_server):
    token = http_token(live_server.url, "batcher")
    batch = [{"username": f"u{i}", "password": PASSWORD, "email": f"u{i}@example.com"}
             for i in range(100)]
    response = requests.post(f"{live_server.url}/user/createWithList", json=batch,
                             headers=bearer(token), timeout=60)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 100


def test_hashing_is_bounded_and_busy_answers_503_with_retry_after(serve):
    server = serve(PASSWORD_HASH_METHOD=SLOW_HASH, PASSWORD_HASH_CONCURRENCY=1,
                   PASSWORD_HASH_WAIT_SECONDS=0.2, SERVE_THREADS=8)
    pet_id = add_pet(server.url)

    def attack():
        def guess(i):
            # Unknown names: the decoy hash goes through the same bound.
            return requests.get(f"{server.url}/user/login",
                                params={"username": f"nobody{i}", "password": "wrong-password"},
                                timeout=120)
        with ThreadPoolExecutor(max_workers=6) as pool:
            return list(pool.map(guess, range(12)))

    answers = while_running(attack, lambda: normal_request_answered(server.url, pet_id))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {400, 503}, statuses
    busy = [r for r in answers if r.status_code == 503]
    assert busy, "with one hashing slot and a 0.2 s wait, some guesses must be refused"
    for response in busy:
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["code"] == 503


def test_failed_logins_past_the_threshold_wait_with_429_instead_of_sleeping(serve):
    server = serve(LOGIN_FAILURES_BEFORE_DELAY=2, LOGIN_FAILURE_DELAY_SECONDS=30)
    http_sign_up(server.url, "victim")
    wrong = {"username": "victim", "password": "wrong-password"}
    statuses = [requests.get(f"{server.url}/user/login", params=wrong, timeout=10).status_code
                for _ in range(3)]
    assert statuses == [400, 400, 400]
    refused = requests.get(f"{server.url}/user/login", timeout=10,
                           params={"username": "victim", "password": PASSWORD})
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 30


def login_from(url: str, source: str, username: str, password: str) -> int:
    """``GET /user/login`` from the local address ``source`` (127.0.0.x)."""
    parsed = requests.utils.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10,
                                            source_address=(source, 0))
    query = requests.compat.urlencode({"username": username, "password": password})
    connection.request("GET", f"{parsed.path}/user/login?{query}")
    status = connection.getresponse().status
    connection.close()
    return status


def test_failed_sign_ins_are_limited_per_address_without_locking_the_account(serve):
    server = serve(LOGIN_FAILURES_PER_ADDRESS_PER_HOUR=5)
    http_sign_up(server.url, "victim")
    for i in range(5):
        assert login_from(server.url, "127.0.0.1", f"guess{i}", "wrong-password") == 400
    refused = requests.get(f"{server.url}/user/login", timeout=10,
                           params={"username": "victim", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # The account itself is not locked: its owner signs in from another address.
    assert login_from(server.url, "127.0.0.2", "victim", PASSWORD) == 200


def test_24_concurrent_failed_logins_count_every_guess_and_never_409(serve, server_database):
    server = serve(LOGIN_FAILURES_BEFORE_DELAY=1000, LOGIN_FAILURES_BEFORE_LOCK=1000,
                   SERVE_THREADS=8)
    http_sign_up(server.url, "victim")
    pet_id = add_pet(server.url)
    barrier = threading.Barrier(24)

    def guess(_):
        barrier.wait()
        return requests.get(f"{server.url}/user/login", timeout=120,
                            params={"username": "victim", "password": "wrong-password"})

    def attack():
        with ThreadPoolExecutor(max_workers=24) as pool:
            return list(pool.map(guess, range(24)))

    answers = while_running(attack, lambda: normal_request_answered(server.url, pet_id))
    assert sorted(r.status_code for r in answers) == [400] * 24
    engine = sa.create_engine(server_database)
    with engine.connect() as connection:
        failures = connection.execute(sa.text(
            "SELECT failures FROM login_throttle JOIN users ON users.id = login_throttle.user_id"
            " WHERE users.username = 'victim'")).scalar_one()
    engine.dispose()
    assert failures == 24


def test_hundreds_of_idle_connections_do_not_stop_new_clients(serve):
    server = serve(cli=True)
    port = server.port
    idle = []
    try:
        for _ in range(300):
            # Half-open: connected, a partial request line, then silence.
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /v2/store/inventory HTTP/1.1\r\n")
            idle.append(sock)
        response = requests.get(f"{server.url}/store/inventory", timeout=ANSWERED_WITHIN)
        assert response.status_code == 200
    finally:
        for sock in idle:
            sock.close()


def test_serve_takes_its_limits_from_settings():
    options = serving_options({**defaults(), "SERVE_CONNECTION_LIMIT": 20,
                               "SERVE_CHANNEL_TIMEOUT": 2})
    assert options["connection_limit"] == 20 and options["channel_timeout"] == 2
    assert options["asyncore_use_poll"] is True  # select() stops at descriptor 1024
    assert defaults()["SERVE_CONNECTION_LIMIT"] >= 500


def test_guessing_unknown_names_computes_no_hash(app, monkeypatch):
    """After the process has timed one real check, an unknown user's sign-in waits as long
    inside a hashing slot instead of hashing: name guessing costs no CPU. A wrong password
    for a real account is still checked."""
    monkeypatch.setattr(accounts, "_check_seconds", {})
    computed, waited = [], []
    real_check = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash",
                        lambda *args: computed.append(args) or real_check(*args))
    monkeypatch.setattr(accounts.time, "sleep", waited.append)
    client = app.test_client()

    def login(name, password="wrong-password"):
        return client.get("/v2/user/login", query_string={"username": name,
                                                          "password": password})

    assert login("nobody-first").status_code == 400
    assert len(computed) == 1 and waited == []  # nothing timed yet: one real check
    for n in range(5):
        assert login(f"nobody{n}").status_code == 400
    assert len(computed) == 1
    assert waited == [accounts._check_seconds[app.config["PASSWORD_HASH_METHOD"]]] * 5
    Api(client).user("known")  # signs in: a real check
    checked = len(computed)
    assert login("known").status_code == 400
    assert len(computed) == checked + 1 and len(waited) == 5
    assert login("known", PASSWORD).status_code == 200
