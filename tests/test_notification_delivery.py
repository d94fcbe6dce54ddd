"""Delivery processes (`timekit-api deliver`) as real processes beside a real waitress server.

- SIGKILL of the delivery process after it claimed a notification and before the receiver
  answered, then a restart: every notification arrives, in transition order per booking.
- Two delivery processes at once (on PostgreSQL when TIMEKIT_TEST_DATABASE_URL points there,
  else on SQLite): every notification arrives exactly once, since no attempt goes unanswered.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import icalendar
import pytest
import requests

from helpers import (
    OPEN_SETTINGS,
    free_port,
    http_session,
    spawn,
    start_server,
    waitress_serve_command,
)
from notification_receivers import Mailbox, Receiver, attachments_of, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET = "k" * 32
DELIVER = [sys.executable, "-c", "from timekit_api.cli import main; main()", "deliver"]


def settings_env(database_url: str, **extra) -> dict:
    return {**os.environ, "TIMEKIT_DATABASE_URL": database_url,
            "TIMEKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1", "TIMEKIT_DELIVERY_POLL_SECONDS": "0.1",
            "TIMEKIT_WEBHOOK_TIMEOUT_SECONDS": "10", **extra}


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


@pytest.fixture
def server(server_database):
    port = free_port()
    live = start_server(waitress_serve_command(port), server_database, port,
                        TIMEKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS="1")
    yield live
    live.stop()


def start_delivery(database_url: str, **extra):
    return spawn(DELIVER, env=settings_env(database_url, **extra))


def stop(process, output) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except Exception:
            process.kill()
            process.wait()
    output.seek(0)
    return output.read()


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def setup_people(url: str, receiver: Receiver):
    owner, booker = http_session(url, "owner"), http_session(url, "booker")
    pet = owner.post(f"{url}/pet", json={"name": "rex", "photoUrls": []}, timeout=10).json()
    assert owner.put(f"{url}/resources/{pet['id']}", json=OPEN_SETTINGS,
                     timeout=10).status_code == 200
    hook = owner.post(f"{url}/webhooks", json={"url": receiver.url, "secret": SECRET},
                      timeout=10)
    assert hook.status_code == 201, hook.text
    return owner, booker, pet["id"], hook.json()["data"]["id"]


def create_booking(url: str, booker: requests.Session, pet: int, minute: int) -> str:
    start = f"2027-02-01T{minute // 60:02d}:{minute % 60:02d}:00Z"
    end = f"2027-02-01T{minute // 60:02d}:{minute % 60:02d}:30Z"
    response = booker.post(f"{url}/bookings", timeout=10, json={
        "graph": "confirm_decline", "action": "create", "resource_id": pet, "start": start,
        "end": end, "what": "Walk", "customer": {"name": "M", "email": "m@example.com"}})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def arrivals(receiver: Receiver) -> list[tuple[str, str, str]]:
    """(delivery id, booking id, event) per request received, in arrival order."""
    return [(r["headers"]["x-timekit-delivery"], json.loads(r["body"])["id"],
             r["headers"]["x-timekit-event"]) for r in receiver.received]


def test_sigkill_between_claim_and_answer_loses_nothing(server, server_database, receiver):
    url = server.url
    owner, booker, pet, hook = setup_people(url, receiver)
    first = create_booking(url, booker, pet, 0)
    receiver.script, receiver.hang_seconds = ["hang"], 30.0
    process, output = start_delivery(server_database, TIMEKIT_DELIVERY_LEASE_SECONDS="2")
    wait_for(lambda: len(receiver.received) == 1)  # claimed, committed, and sent: no answer
    process.send_signal(signal.SIGKILL)
    process.wait()
    # Meanwhile the service goes on: more transitions, nobody delivering.
    assert owner.put(f"{url}/bookings/{first}/confirm", timeout=10).status_code == 200
    second = create_booking(url, booker, pet, 60)
    assert owner.put(f"{url}/bookings/{second}/decline", timeout=10).status_code == 200
    process, output = start_delivery(server_database, TIMEKIT_DELIVERY_LEASE_SECONDS="2")
    try:
        wait_for(lambda: len(receiver.received) >= 5)
        time.sleep(0.5)
    finally:
        printed = stop(process, output)
    got = arrivals(receiver)
    assert all(r["signed"] for r in receiver.received)
    # The unanswered attempt is sent again (at least once); nothing else is repeated.
    assert len(got) == 5, got
    ids = [delivery for delivery, _, _ in got]
    assert len(set(ids)) == 4
    per_booking = collections.defaultdict(list)
    for _delivery, booking, event in got:
        if not per_booking[booking] or per_booking[booking][-1] != event:
            per_booking[booking].append(event)
    assert per_booking[first] == ["booking.tentative", "booking.confirmed"], printed
    assert per_booking[second] == ["booking.tentative", "booking.declined"]
    log = owner.get(f"{url}/webhooks/{hook}/deliveries", timeout=10).json()["data"]
    assert {d["status"] for d in log} == {"delivered"}
    retried = [d for d in log if d["attempts"] == 2]
    assert len(retried) == 1 and retried[0]["booking_id"] == first


def test_two_delivery_processes_send_each_notification_once(server, server_database, receiver):
    url = server.url
    owner, booker, pet, hook = setup_people(url, receiver)
    bookings = [create_booking(url, booker, pet, minute) for minute in range(30)]
    for booking in bookings[:10]:
        assert owner.put(f"{url}/bookings/{booking}/confirm", timeout=10).status_code == 200
    expected = len(bookings) + 10
    workers = [start_delivery(server_database) for _ in range(2)]
    try:
        wait_for(lambda: len(receiver.received) >= expected)
        time.sleep(1.0)  # room for a double send to show up
    finally:
        printed = [stop(*worker) for worker in workers]
    got = arrivals(receiver)
    counts = collections.Counter(delivery for delivery, _, _ in got)
    assert len(got) == expected and set(counts.values()) == {1}, (counts, printed)
    for booking in bookings[:10]:
        events = [event for _, b, event in got if b == booking]
        assert events == ["booking.tentative", "booking.confirmed"]
    log = owner.get(f"{url}/webhooks/{hook}/deliveries", params={"limit": 100},
                    timeout=10).json()
    assert log["total"] == expected
    assert {(d["status"], d["attempts"]) for d in log["data"]} == {("delivered", 1)}


def test_emails_links_and_calendar_end_to_end(server_database):
    """waitress + `timekit-api deliver` + aiosmtpd: the owner's email's confirm link, followed
    over HTTP, confirms once; the customer's confirmation carries the .ics."""
    mailbox = Mailbox()
    port = free_port()
    mail = {"TIMEKIT_MAIL_SERVER": "127.0.0.1", "TIMEKIT_MAIL_PORT": str(mailbox.port),
            "TIMEKIT_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    live = start_server(waitress_serve_command(port), server_database, port, **mail)
    process, output = start_delivery(server_database, **mail)
    try:
        url = live.url
        owner, booker = http_session(url, "owner"), http_session(url, "booker")
        pet = owner.post(f"{url}/pet", json={"name": "rex", "photoUrls": []}, timeout=10).json()
        assert owner.put(f"{url}/resources/{pet['id']}", json=OPEN_SETTINGS,
                         timeout=10).status_code == 200
        booking = create_booking(url, booker, pet["id"], 0)
        wait_for(lambda: len(mailbox.messages) == 1)
        link = re.search(r"Confirm: (\S+)", text_of(mailbox.messages[0])).group(1)
        assert link.startswith(f"{url}/bookings/{booking}/external_action/confirm?signature=")
        # Four clicks at once: the database lets exactly one of them use the link.
        barrier = threading.Barrier(4)

        def click():
            barrier.wait()
            return requests.get(link, timeout=30)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: click(), range(4)))
        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
        (confirmed,) = [a for a in answers if a.status_code == 200]
        assert confirmed.json()["data"]["state"] == "confirmed"
        assert requests.get(link, timeout=10).status_code == 409
        wait_for(lambda: len(mailbox.messages) == 2)
        assert mailbox.messages[1]["To"] == "m@example.com"
        ics = attachments_of(mailbox.messages[1])["booking.ics"]
        (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        assert str(event["status"]) == "CONFIRMED"
        served = booker.get(f"{url}/bookings/{booking}/calendar.ics", timeout=10)
        assert served.status_code == 200
        assert served.headers["Content-Type"].startswith("text/calendar")
        assert requests.get(f"{url}/bookings/{booking}/calendar.ics", timeout=10
                            ).status_code == 401
    finally:
        stop(process, output)
        live.stop()
        mailbox.close()
