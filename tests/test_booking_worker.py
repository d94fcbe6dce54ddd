"""The worker under real concurrency: separate worker processes and a server with its worker
thread on one database (PostgreSQL when TIMEKIT_TEST_DATABASE_URL is set, else SQLite),
a worker killed with SIGKILL mid-batch, SIGTERM, a database that is not there, and a
person paying at the instant the payment times out.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
import time

import pytest
import requests
import sqlalchemy as sa

from helpers import (
    Api,
    base_config,
    cli_serve_command,
    free_port,
    http_open_for_booking,
    serving_app,
    spawn,
    start_server,
)
from timekit_api.database import db
from timekit_api.database.models import Booking, BookingTransition
from timekit_api.domain import clock
from timekit_api.domain.booking import engine
from timekit_api.worker import Worker

WORKER_COMMAND = [sys.executable, "-c", "from timekit_api.cli import main; main()", "worker"]
DAY = dt.datetime(2030, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def shared(server_database, tmp_path):
    """An app on the database that the processes share."""
    return serving_app({**base_config(tmp_path), "DATABASE_URL": server_database})


def make_due(app, pets: int, per_pet: int) -> list[str]:
    """``pets * per_pet`` instant_payment bookings, all timed out at the clock's new time."""
    api = Api(app.test_client())
    owner = api.user("owner")
    api.signup("booker")
    pet_ids = [api.add_pet(owner)["id"] for _ in range(pets)]
    for pet in pet_ids:
        api.open_for_booking(owner, pet)
    ids = []
    with app.app_context():
        booker_id = db.session.scalar(sa.text("SELECT id FROM users WHERE username='booker'"))
        for pet in pet_ids:
            for n in range(per_pet):
                start = DAY + dt.timedelta(hours=n)
                view = engine.create_booking({
                    "graph": "instant_payment", "action": "create", "resource_id": pet,
                    "start": start, "end": start + dt.timedelta(minutes=30), "what": "w",
                    "customer": {"name": "n", "email": "n@example.com"}}, booker_id)
                ids.append(view.booking.id)
        clock.set_now(clock.now() + dt.timedelta(minutes=6))
    return ids


def recorded(app) -> dict[str, int]:
    """How many timeout transitions each booking has; and how many are still due."""
    with app.app_context():
        counts = dict(db.session.execute(
            sa.select(BookingTransition.booking_id, sa.func.count())
            .where(BookingTransition.action == "timeout").group_by(BookingTransition.booking_id)
        ).all())
        db.session.remove()
        return counts


def still_due(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).where(Booking.due_at.is_not(None),
                                                                   Booking.state == "tentative"))
        db.session.remove()
        return count


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def read(output) -> str:
    output.flush()
    output.seek(0)
    return output.read()


def worker_process(url: str, **env):
    environment = {**os.environ, "TIMEKIT_DATABASE_URL": url,
                   "TIMEKIT_WORKER_POLL_SECONDS": "0.2", **env}
    return spawn(WORKER_COMMAND, env=environment)


@pytest.mark.slow
def test_two_workers_and_a_server_record_each_transition_once(shared, server_database):
    port = free_port()
    server = start_server(cli_serve_command(port), server_database, port,
                          TIMEKIT_WORKER_ENABLED="1", TIMEKIT_WORKER_POLL_SECONDS="0.2")
    workers = [worker_process(server_database) for _ in range(2)]
    try:
        for _process, output in workers:
            wait_until(lambda output=output: "worker started" in read(output))
        ids = make_due(shared, pets=20, per_pet=10)  # 200 due bookings
        wait_until(lambda: still_due(shared) == 0)
        time.sleep(1)  # a late duplicate would show now
        assert recorded(shared) == {booking_id: 1 for booking_id in ids}
    finally:
        server_output = server.stop()
        outputs = []
        for process, output in workers:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
            outputs.append(read(output))
    assert "worker stopped" in "".join(outputs)  # SIGTERM: a clean stop
    logged = server_output + "".join(outputs)
    assert "automatic transition(s)" in logged
    assert "Traceback" not in logged


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(shared, server_database):
    ids = make_due(shared, pets=100, per_pet=5)
    process, output = worker_process(server_database, TIMEKIT_WORKER_BATCH_SIZE="20")
    try:
        wait_until(lambda: len(recorded(shared)) > 0, timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        output.close()
    assert len(recorded(shared)) < len(ids), "killed too late to test anything"
    process, output = worker_process(server_database)
    try:
        wait_until(lambda: still_due(shared) == 0)
        assert recorded(shared) == {booking_id: 1 for booking_id in ids}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        output.close()


def test_pay_racing_the_timeout_at_the_due_instant(shared):
    """20 runs: a person pays as the payment falls due, while a worker runs. Exactly one
    wins, and the history agrees with the state."""
    client = shared.test_client()
    api = Api(client)
    owner = api.user("owner")
    booker = api.user("booker")
    pet = api.add_pet(owner)["id"]
    api.open_for_booking(owner, pet)
    outcomes = set()
    for run in range(20):
        start = DAY + dt.timedelta(days=run)
        created = client.post("/v2/bookings", json={
            "graph": "instant_payment", "action": "create", "resource_id": pet,
            "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(),
            "what": "w", "customer": {"name": "n", "email": "n@example.com"}}, headers=booker)
        booking = created.json["data"]
        with shared.app_context():
            due_at = db.session.get(Booking, booking["id"]).due_at
            # a few milliseconds before the due time, so either may come first
            clock.set_now(due_at - dt.timedelta(milliseconds=3 * (run % 4)))
            db.session.remove()
        answers = race(shared, booking["id"], booker)
        seen = client.get(f"/v2/bookings/{booking['id']}", headers=owner).json["data"]
        actions = [t["action"] for t in seen["transitions"]]
        if answers["pay"].status_code == 200:
            assert seen["state"] == "paid" and actions == ["create", "pay"]
            outcomes.add("paid")
        else:
            assert answers["pay"].status_code == 409, answers["pay"].json
            assert seen["state"] == "unpaid" and actions == ["create", "timeout"]
            outcomes.add("unpaid")
    assert outcomes  # each run had exactly one winner


def race(app, booking_id: str, booker: dict) -> dict:
    """``pay`` through the API and a worker round, released together."""
    barrier = threading.Barrier(2)
    answers = {}

    def pay():
        barrier.wait()
        answers["pay"] = app.test_client().put(
            f"/v2/bookings/{booking_id}/pay", json={"pay": {"payment_id": "p"}},
            headers=booker)

    def work():
        barrier.wait()
        answers["worker"] = Worker(app).run_once()

    threads = [threading.Thread(target=pay), threading.Thread(target=work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_missing_database_is_logged_and_retried(tmp_path, caplog):
    broken = serving_app({**base_config(tmp_path), "AUTO_CREATE_SCHEMA": False,
                          "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                          "WORKER_POLL_SECONDS": 0.05})
    worker = Worker(broken)
    thread = threading.Thread(target=worker.run)
    with caplog.at_level(logging.WARNING, logger="timekit_api.worker"):
        thread.start()
        wait_until(lambda: "database unavailable" in caplog.text, timeout=20)
        worker.stop()
        thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.mark.e2e
def test_end_to_end_through_waitress_with_its_worker_thread(shared, server_database):
    """The testing clock, a timed-out payment, reschedule and reset over real HTTP, with the
    server's own worker thread recording the timeout."""
    port = free_port()
    server = start_server(cli_serve_command(port), server_database, port,
                          TIMEKIT_WORKER_ENABLED="1", TIMEKIT_WORKER_POLL_SECONDS="0.2",
                          TIMEKIT_TESTING_ENDPOINTS="1",
                          TIMEKIT_TOKEN_TTL_SECONDS=str(5 * 365 * 24 * 3600))
    url = server.url
    try:
        headers = {}
        for name in ("owner", "booker"):
            requests.post(f"{url}/user", json={"username": name, "password": "secret-pw",
                                               "email": f"{name}@example.com"}, timeout=30)
            token = requests.get(f"{url}/user/login", params={
                "username": name, "password": "secret-pw"}, timeout=30).json()
            headers[name] = {"Authorization": f"Bearer {token}"}
        pet = requests.post(f"{url}/pet", json={"name": "rex", "photoUrls": []},
                            headers=headers["owner"], timeout=30).json()["id"]
        http_open_for_booking(url, headers["owner"], pet)
        body = {"graph": "instant_payment", "action": "create", "resource_id": pet,
                "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z", "what": "w",
                "customer": {"name": "n", "email": "n@example.com"}}
        booking = requests.post(f"{url}/bookings", json=body, headers=headers["booker"],
                                timeout=30).json()["data"]
        moved = requests.post(f"{url}/bookings/{booking['id']}/reschedule", json={
            "start": "2030-01-02T10:00:00Z", "end": "2030-01-02T11:00:00Z"},
            headers=headers["booker"], timeout=30)
        assert moved.status_code == 200, moved.text
        assert moved.json()["data"]["state"] == "tentative"
        clock = requests.put(f"{url}/testing/clock", json={"advance": "6 minutes"}, timeout=30)
        assert clock.status_code == 200, clock.text
        seen = requests.get(f"{url}/bookings/{booking['id']}", headers=headers["owner"],
                            timeout=30).json()["data"]
        assert seen["state"] == "unpaid"
        wait_until(lambda: recorded(shared) == {booking["id"]: 1}, timeout=30)
        assert requests.get(f"{url}/bookings/{booking['id']}", headers=headers["owner"],
                            timeout=30).json()["data"] == seen
        assert requests.put(f"{url}/testing/clock", json={"advance": "soon"},
                            timeout=30).status_code == 400
        assert requests.post(f"{url}/testing/reset", timeout=30).status_code == 204
        assert requests.get(f"{url}/pet/1", timeout=30).json()["name"] == "Cat 1"
    finally:
        output = server.stop()
    assert "recorded 1 automatic transition(s)" in output
