"""Faults against the real waitress server on SQLite: a crash under write load, and contention.

- The server is killed with SIGKILL in the middle of a write load, then restarted on the same
  database: ``PRAGMA integrity_check`` passes and every write acknowledged with a 2xx is there.
- 8 concurrent writers for ``CONTENTION_SECONDS`` (30 by default): no request fails with a
  database error (no 5xx, no 503), and every acknowledged write is there.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest
import requests

from helpers import (
    TEST_DATABASE_URL,
    free_port,
    http_session,
    start_server,
    waitress_serve_command,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e,
              pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite crash behaviour")]

CONTENTION_SECONDS = float(os.environ.get("CONTENTION_SECONDS", "30"))
WRITERS = 8


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def test_sigkill_under_write_load_loses_no_acknowledged_write(server_database):
    port = free_port()
    server = start_server(waitress_serve_command(port, threads=8), server_database, port)
    sessions = [http_session(server.url, f"w{i}") for i in range(4)]
    acknowledged: list[tuple[int, str]] = []
    stop = threading.Event()

    def write(session, n):
        i = 0
        while not stop.is_set():
            name = f"pet-{n}-{i}"
            try:
                response = session.post(server.url + "/pet", timeout=10, json={
                    "name": name, "photoUrls": ["u"], "tags": [{"name": f"t{i % 5}"}]})
            except requests.RequestException:
                return  # the server is gone
            if 200 <= response.status_code < 300:
                acknowledged.append((response.json()["id"], name))
            i += 1

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    server.process.kill()  # SIGKILL: no cleanup, no checkpoint
    server.process.wait(10)
    stop.set()
    for thread in threads:
        thread.join(30)
    server.output.close()
    assert len(acknowledged) > 20, "the load never got going"

    with sqlite3.connect(sqlite_path(server_database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    port = free_port()
    restarted = start_server(waitress_serve_command(port), server_database, port)
    try:
        missing = []
        for pet_id, name in acknowledged:
            response = requests.get(f"{restarted.url}/pet/{pet_id}", timeout=10)
            if response.status_code != 200 or response.json()["name"] != name:
                missing.append((pet_id, name, response.status_code))
        assert missing == []
        # And the restarted server takes writes again.
        assert http_session(restarted.url, "after").post(restarted.url + "/pet", timeout=10, json={
            "name": "after", "photoUrls": []}).status_code == 200
    finally:
        restarted.stop()
    with sqlite3.connect(sqlite_path(server_database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_eight_concurrent_writers_never_see_a_database_error(server_database):
    port = free_port()
    server = start_server(waitress_serve_command(port, threads=WRITERS), server_database,
                          port)
    try:
        sessions = [http_session(server.url, f"c{i}") for i in range(WRITERS)]
        seed = sessions[0].post(server.url + "/pet", timeout=30,
                                json={"name": "shared", "photoUrls": []}).json()
        failures: list[str] = []
        acknowledged: list[int] = []
        deadline = time.monotonic() + CONTENTION_SECONDS

        def write(session, n):
            i = 0
            while time.monotonic() < deadline:
                i += 1
                pet = session.post(server.url + "/pet", timeout=30, json={
                    "name": f"p{n}-{i}", "photoUrls": [], "category": {"name": "Dogs"},
                    "tags": [{"name": f"t{i % 3}"}, {"name": "all"}]})
                steps = [pet]
                if pet.status_code == 200:
                    acknowledged.append(pet.json()["id"])
                    body = {**pet.json(), "status": "sold"}
                    steps.append(session.put(server.url + "/pet", json=body, timeout=30))
                    steps.append(session.post(f"{server.url}/pet/{body['id']}", timeout=30,
                                              data={"name": f"q{n}-{i}"}))
                steps.append(session.post(server.url + "/store/order", timeout=30,
                                          json={"petId": seed["id"], "quantity": 1}))
                steps.append(session.get(server.url + "/store/inventory", timeout=30))
                for response in steps:
                    if response.status_code >= 500 or response.status_code == 409:
                        failures.append(f"{response.request.method} {response.url} -> "
                                        f"{response.status_code} {response.text[:200]}")

        threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CONTENTION_SECONDS + 120)
        assert failures == []
        assert len(acknowledged) > WRITERS
        for pet_id in acknowledged[::max(1, len(acknowledged) // 50)]:
            assert requests.get(f"{server.url}/pet/{pet_id}", timeout=10).status_code == 200
    finally:
        server.stop()
