"""Notifications (contract section 8): the outbox, webhooks, emails, action links, calendars.

Real components on 127.0.0.1: a webhook receiver in this process that checks both signatures
and answers from a script (500, a hang past the timeout, 410), and an aiosmtpd SMTP server whose
messages are parsed and whose links are followed.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import icalendar
import pytest
import requests
import sqlalchemy as sa

from helpers import Api, base_config, clean_database, http_session, serving_app
from notification_receivers import Mailbox, Receiver, attachments_of, text_of
from timekit_api.database import db
from timekit_api.database.models import Delivery, Webhook
from timekit_api.delivery import deliver_once
from timekit_api.domain.booking import automation
from timekit_api.domain.notifications import actions, links

SECRET = "s" * 32


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


@pytest.fixture
def mailbox():
    m = Mailbox()
    yield m
    m.close()


def make_app(tmp_path, **settings):
    return serving_app({**base_config(tmp_path), "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True,
                        "WEBHOOK_TIMEOUT_SECONDS": 1.0, **settings})


@pytest.fixture
def napp(tmp_path):
    app = make_app(tmp_path)
    yield app
    clean_database(app)


def people_of(app):
    """(client, owner headers, booker headers, pet id): an owner whose pet is open for
    booking, and a booker."""
    client = app.test_client()
    api = Api(client)
    owner, booker = api.user("owner"), api.user("booker")
    pet = api.add_pet(owner)["id"]
    api.open_for_booking(owner, pet)
    return client, owner, booker, pet


@pytest.fixture
def people(napp):
    return people_of(napp)


def book(client, headers, pet_id, graph="confirm_decline", hour=10, **extra):
    body = {"graph": graph, "action": "create" if graph == "confirm_decline" else "confirm",
            "resource_id": pet_id, "start": f"2027-01-01T{hour:02d}:00:00Z",
            "end": f"2027-01-01T{hour:02d}:30:00Z", "what": "Walk the dog",
            "customer": {"name": "Marty", "email": "marty@example.com",
                         "timezone": "Europe/Oslo"}, **extra}
    response = client.post("/v2/bookings", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def subscribe(client, headers, url, **body):
    response = client.post("/v2/webhooks", json={"url": url, "secret": SECRET, **body},
                           headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]


def deliveries(app):
    with app.app_context():
        rows = db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).all()
        db.session.expunge_all()
        return rows


def later(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


# --- the webhooks API ------------------------------------------------------------------------

def test_webhook_crud_shows_the_secret_once_and_only_to_its_owner(people):
    client, owner, booker, _ = people
    created = client.post("/v2/webhooks", json={"url": "https://93.184.216.34/h"},
                          headers=owner).json["data"]
    assert len(created["secret"]) >= 32 and created["active"] is True
    assert created["graphs"] == ["*"] and created["states"] == ["*"]
    path = f"/v2/webhooks/{created['id']}"
    got = client.get(path, headers=owner).json["data"]
    assert "secret" not in got and got["url"] == "https://93.184.216.34/h"
    assert [w["id"] for w in client.get("/v2/webhooks", headers=owner).json["data"]] == [
        created["id"]]
    assert client.get("/v2/webhooks", headers=booker).json["data"] == []
    for method, suffix in (("get", ""), ("put", ""), ("delete", ""), ("post", "/ping"),
                           ("get", "/deliveries"), ("post", "/deliveries/1/redeliver")):
        response = getattr(client, method)(path + suffix, headers=booker,
                                           **({"json": {}} if method == "put" else {}))
        assert response.status_code == 404, (method, suffix, response.json)
    updated = client.put(path, json={"states": ["confirmed"], "active": False},
                         headers=owner).json["data"]
    assert updated["states"] == ["confirmed"] and updated["active"] is False
    assert client.delete(path, headers=owner).status_code == 204
    assert client.get(path, headers=owner).status_code == 404
    assert client.get("/v2/webhooks").status_code == 401


@pytest.mark.parametrize("body", [
    {"url": "ftp://example.com/x"}, {"url": "not a url"}, {"url": ""}, {},
    {"url": "https://example.com/h", "graphs": ["nope"]},
    {"url": "https://example.com/h", "states": ["nowhere"]},
    {"url": "https://example.com/h", "states": []},
    {"url": "https://example.com/h", "secret": "short"},
])
def test_invalid_webhooks_are_400(people, body):
    client, owner, _, _ = people
    response = client.post("/v2/webhooks", json=body, headers=owner)
    assert response.status_code == 400, response.json


def test_private_addresses_are_refused_unless_allowed(tmp_path):
    app = serving_app(base_config(tmp_path))  # the default: private networks refused
    try:
        client = app.test_client()
        headers = Api(client).user("carol")
        for url in ("http://127.0.0.1:8080/x", "http://10.0.0.1/x", "http://localhost/x",
                    "http://[::1]/x", "http://169.254.169.254/latest"):
            response = client.post("/v2/webhooks", json={"url": url}, headers=headers)
            assert response.status_code == 400, url
            assert "url" in response.json["errors"]
    finally:
        clean_database(app)


# --- the outbox and webhook delivery ---------------------------------------------------------

def test_transitions_are_delivered_signed_in_order_with_the_bookings_json(napp, people,
                                                                           receiver):
    client, owner, booker, pet = people
    hook = subscribe(client, owner, receiver.url)
    booking = book(client, booker, pet)
    assert client.put(f"/v2/bookings/{booking['id']}/confirm", headers=owner).status_code == 200
    assert client.put(f"/v2/bookings/{booking['id']}/cancel",
                      json={"cancel": {"message": "rain"}}, headers=owner).status_code == 200
    assert receiver.received == []  # nothing leaves before a delivery process runs
    counts = deliver_once(napp)
    assert counts.delivered == 3
    assert receiver.events() == [("booking.tentative", "tentative"),
                                 ("booking.confirmed", "confirmed"),
                                 ("booking.cancelled", "cancelled")]
    assert all(r["signed"] for r in receiver.received)
    last = receiver.received[-1]
    assert last["headers"]["content-type"] == "application/json"
    # The body is the booking exactly as GET /v2/bookings/{id} gives the webhook's owner.
    assert json.loads(last["body"]) == client.get(f"/v2/bookings/{booking['id']}",
                                                  headers=owner).json["data"]
    log = client.get(f"/v2/webhooks/{hook['id']}/deliveries", headers=owner).json
    assert log["total"] == 3 and [d["status"] for d in log["data"]] == ["delivered"] * 3
    assert {d["id"] for d in log["data"]} == {
        int(r["headers"]["x-timekit-delivery"]) for r in receiver.received}
    assert log["data"][0]["response_status"] == 200 and log["data"][0]["attempts"] == 1
    assert log["data"][0]["next_attempt_at"] is None
    assert deliver_once(napp).claimed == 0


def test_subscriptions_filter_by_graph_and_state_and_reach_both_sides(napp, people,
                                                                        receiver):
    client, owner, booker, pet = people
    subscribe(client, owner, receiver.url, states=["confirmed"])
    subscribe(client, booker, receiver.url, graphs=["instant"])
    stranger = Api(client).user("stranger")
    subscribe(client, stranger, receiver.url)
    book(client, booker, pet)                      # confirm_decline: tentative
    book(client, booker, pet, graph="instant", hour=12)  # confirmed
    deliver_once(napp)
    assert sorted(receiver.events()) == [("booking.confirmed", "confirmed")] * 2


def test_a_failed_transition_writes_no_notification(napp, people, receiver):
    client, owner, booker, pet = people
    subscribe(client, owner, receiver.url)
    book(client, booker, pet)
    before = len(deliveries(napp))
    response = client.post("/v2/bookings", headers=booker, json={
        "graph": "confirm_decline", "action": "create", "resource_id": pet,
        "start": "2027-01-01T10:10:00Z", "end": "2027-01-01T10:20:00Z", "what": "x",
        "customer": {"name": "M", "email": "m@example.com"}})
    assert response.status_code == 409
    assert len(deliveries(napp)) == before


def test_failures_are_retried_with_backoff_and_later_transitions_wait(napp, people, receiver):
    client, owner, booker, pet = people
    hook = subscribe(client, owner, receiver.url)
    booking = book(client, booker, pet)
    client.put(f"/v2/bookings/{booking['id']}/confirm", headers=owner)
    receiver.script = [500, "hang"]
    first = deliver_once(napp)
    # The 500 is retried later; the confirmation waits behind it (order per booking).
    assert (first.retrying, len(receiver.received)) == (1, 1)
    rows = [d for d in deliveries(napp) if d.channel == "webhook"]
    assert rows[0].status == "pending" and rows[0].response_status == 500
    assert rows[0].error == "HTTP 500" and rows[0].attempts == 1
    assert dt.timedelta(seconds=8) < rows[0].next_attempt_at - rows[0].created_at \
        < dt.timedelta(seconds=13)
    assert deliver_once(napp).claimed == 0  # not due yet
    second = deliver_once(napp, now=later(15))  # the hang: no answer within the timeout
    assert second.retrying == 1
    assert "1 s" in deliveries(napp)[0].error  # the timeout setting
    third = deliver_once(napp, now=later(200))
    assert third.delivered == 2  # the tentative one, then the confirmation that waited
    assert [e for e, _ in receiver.events()] == ["booking.tentative"] * 3 + ["booking.confirmed"]
    log = client.get(f"/v2/webhooks/{hook['id']}/deliveries", headers=owner).json["data"]
    assert [(d["event"], d["attempts"], d["status"]) for d in log] == [
        ("booking.confirmed", 1, "delivered"), ("booking.tentative", 3, "delivered")]


def test_the_schedule_ends_in_failed(napp, people, receiver):
    client, owner, booker, pet = people
    subscribe(client, owner, receiver.url)
    book(client, booker, pet)
    receiver.script = [503] * 20
    moment = 0
    for _ in range(8):
        moment += 50_000
        deliver_once(napp, now=later(moment))
    (row,) = [d for d in deliveries(napp) if d.channel == "webhook"]
    assert row.status == "failed" and row.attempts == 8 and row.response_status == 503
    assert len(receiver.received) == 8


def test_410_deactivates_the_webhook(napp, people, receiver):
    client, owner, booker, pet = people
    hook = subscribe(client, owner, receiver.url)
    booking = book(client, booker, pet)
    client.put(f"/v2/bookings/{booking['id']}/confirm", headers=owner)
    receiver.script = [410]
    deliver_once(napp)
    got = client.get(f"/v2/webhooks/{hook['id']}", headers=owner).json["data"]
    assert got["active"] is False
    deliver_once(napp)
    assert len(receiver.received) == 1  # the waiting confirmation is not sent to a gone URL
    statuses = [(d.event, d.status) for d in deliveries(napp) if d.channel == "webhook"]
    assert statuses == [("booking.tentative", "failed"), ("booking.confirmed", "failed")]
    book(client, booker, pet, hour=14)
    assert len([d for d in deliveries(napp) if d.channel == "webhook"]) == 2  # inactive
    client.put(f"/v2/webhooks/{hook['id']}", json={"active": True}, headers=owner)
    book(client, booker, pet, hour=16)
    deliver_once(napp)
    assert len(receiver.received) == 2


def test_the_address_guard_applies_again_at_delivery(napp, people, receiver, tmp_path):
    client, owner, booker, pet = people
    subscribe(client, owner, receiver.url)
    book(client, booker, pet)
    strict = make_app(tmp_path, WEBHOOK_ALLOW_PRIVATE_NETWORKS=False)
    deliver_once(strict)
    (row,) = [d for d in deliveries(napp) if d.channel == "webhook"]
    assert row.status == "pending" and "loopback" in row.error
    assert receiver.received == []


def test_ping_and_redeliver(napp, people, receiver):
    client, owner, booker, pet = people
    hook = subscribe(client, owner, receiver.url)
    ping = client.post(f"/v2/webhooks/{hook['id']}/ping", headers=owner)
    assert ping.status_code == 202 and ping.json["data"]["event"] == "ping"
    book(client, booker, pet)
    deliver_once(napp)
    # A ping belongs to no booking: its order against the booking's deliveries is free.
    assert sorted(r["headers"]["x-timekit-event"] for r in receiver.received) == [
        "booking.tentative", "ping"]
    assert all(r["signed"] for r in receiver.received)
    original = next(r for r in receiver.received
                    if r["headers"]["x-timekit-event"] == "booking.tentative")
    delivery_id = int(original["headers"]["x-timekit-delivery"])
    again = client.post(f"/v2/webhooks/{hook['id']}/deliveries/{delivery_id}/redeliver",
                        headers=owner)
    assert again.status_code == 202 and again.json["data"]["id"] != delivery_id
    assert client.post(f"/v2/webhooks/{hook['id']}/deliveries/999999/redeliver",
                       headers=owner).status_code == 404
    deliver_once(napp)
    assert receiver.received[2]["body"] == original["body"]
    assert receiver.received[2]["headers"]["x-timekit-delivery"] == str(again.json["data"]["id"])


def test_graph_json_documents_the_notifications(people):
    client = people[0]
    graph = client.get("/v2/bookings/graphs/confirm_decline").json["data"]
    assert {"on": "tentative", "email": ["owner"], "email_template": "booking_request_owner",
            "webhook": True, "not_to_actor": False} in graph["notifications"]


# --- emails, action links, calendars ---------------------------------------------------------

@pytest.fixture
def mail_app(tmp_path, mailbox):
    app = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=mailbox.port,
                   MAIL_FROM="bookings@example.com", PUBLIC_URL="http://localhost")
    yield app
    clean_database(app)


def test_emails_are_sent_and_their_links_work_once(mail_app, mailbox):
    client, owner, booker, pet = people_of(mail_app)
    booking = book(client, booker, pet)
    assert deliver_once(mail_app).delivered == 1
    (request,) = mailbox.messages
    assert request["To"] == "owner@example.com" and "Walk the dog" in request["Subject"]
    text = text_of(request)
    confirm = re.search(r"Confirm: (\S+)", text).group(1)
    decline = re.search(r"Decline: (\S+)", text).group(1)
    assert confirm.startswith(f"http://localhost/v2/bookings/{booking['id']}/external_action/")
    path = confirm.removeprefix("http://localhost")
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    assert client.get(tampered).status_code == 403
    confirmed = client.get(path)
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["data"]["state"] == "confirmed"
    assert client.get(path).status_code == 409  # single use
    assert client.get(decline.removeprefix("http://localhost")).status_code == 409
    # The confirmation reaches the customer, with the booking as an .ics attachment.
    assert deliver_once(mail_app).delivered == 1
    confirmation = mailbox.messages[1]
    assert confirmation["To"] == "marty@example.com"
    assert confirmation.get_body(preferencelist=("html",)) is not None
    calendar = icalendar.Calendar.from_ical(attachments_of(confirmation)["booking.ics"])
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]).startswith(booking["id"]) and str(event["status"]) == "CONFIRMED"
    assert event.decoded("dtstart") == dt.datetime(2027, 1, 1, 10, tzinfo=dt.UTC)


def test_cancellation_mails_the_other_side_only(mail_app, mailbox):
    client, owner, booker, pet = people_of(mail_app)
    booking = book(client, booker, pet, graph="instant")
    client.put(f"/v2/bookings/{booking['id']}/cancel", json={"cancel": {"message": "sick"}},
               headers=booker)
    deliver_once(mail_app)
    deliver_once(mail_app)
    assert [m["To"] for m in mailbox.messages] == ["marty@example.com", "owner@example.com"]
    assert "sick" in text_of(mailbox.messages[1])


def test_expired_and_foreign_links_are_refused(mail_app, mailbox):
    client, owner, booker, pet = people_of(mail_app)
    booking = book(client, booker, pet)
    other = book(client, booker, pet, hour=15)
    deliver_once(mail_app)
    confirm = re.search(r"Confirm: (\S+)", text_of(mailbox.messages[0])).group(1)
    token = confirm.split("signature=")[1]
    target = other["id"] if confirm.count(booking["id"]) else booking["id"]
    assert client.get(f"/v2/bookings/{target}/external_action/confirm?signature={token}"
                      ).status_code == 403
    with mail_app.app_context():
        secret = actions.link_secret("")
    old = links.make_action_token(secret, booking["id"], "confirm", "n", now=0)
    assert client.get(f"/v2/bookings/{booking['id']}/external_action/confirm?signature={old}"
                      ).status_code == 403
    assert client.get(f"/v2/bookings/{booking['id']}/external_action/confirm"
                      ).status_code == 400


def test_without_a_mail_server_emails_are_skipped(napp, people):
    client, owner, booker, pet = people
    book(client, booker, pet)
    assert deliver_once(napp).skipped == 1
    (row,) = deliveries(napp)
    assert (row.channel, row.status, row.recipient) == ("email", "skipped", "owner")


def test_email_templates_can_be_overridden_from_the_instance_folder(mail_app, mailbox,
                                                                     tmp_path):
    folder = tmp_path / "instance"
    (folder / "emails").mkdir(parents=True)
    (folder / "emails" / "booking_request_owner.subject.txt").write_text("Custom {{ site_name }}")
    mail_app.instance_path = str(folder)
    client, owner, booker, pet = people_of(mail_app)
    book(client, booker, pet)
    deliver_once(mail_app)
    assert mailbox.messages[0]["Subject"] == "Custom Timekit API"


def test_calendar_file_for_booker_and_owner_only(people):
    client, owner, booker, pet = people
    booking = book(client, booker, pet)
    for headers in (owner, booker):
        response = client.get(f"/v2/bookings/{booking['id']}/calendar.ics", headers=headers)
        assert response.status_code == 200 and response.mimetype == "text/calendar"
        (event,) = icalendar.Calendar.from_ical(response.data).walk("VEVENT")
        assert str(event["status"]) == "TENTATIVE"
    stranger = Api(client).user("stranger")
    assert client.get(f"/v2/bookings/{booking['id']}/calendar.ics",
                      headers=stranger).status_code == 404
    assert client.get(f"/v2/bookings/{booking['id']}/calendar.ics").status_code == 401


def test_the_link_secret_is_generated_once_and_stored(napp):
    with napp.app_context():
        actions._generated.clear()
        first = actions.link_secret("")
        actions._generated.clear()
        assert actions.link_secret("") == first and len(first) >= 48
        assert actions.link_secret("configured") == "configured"


@pytest.fixture
def clocked_mail_app(tmp_path, mailbox):
    # Tokens outlive the clock's moves (their expiry follows the service clock).
    app = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=mailbox.port,
                   MAIL_FROM="bookings@example.com", TESTING_ENDPOINTS=True,
                   TOKEN_TTL_SECONDS=5 * 365 * 24 * 3600)
    yield app
    clean_database(app)


def test_every_graph_notifies_by_its_rules(clocked_mail_app, mailbox):
    """Payment graphs confirm on `paid` and tell the customer of a timeout; a class's
    cancellation reaches every seat's customer as a class cancellation, a seat cancelled
    alone as a cancellation, and a customer leaving a class tells the owner."""
    mail_app = clocked_mail_app
    client, owner, booker, pet = people_of(mail_app)
    assert client.put("/v2/testing/clock", json={"now": "2026-12-31T10:00:00Z"}
                      ).status_code == 200

    def sent():
        while deliver_once(mail_app).claimed:
            pass
        messages = [(m["To"], m["Subject"]) for m in mailbox.messages]
        mailbox.messages.clear()
        return messages

    def customer(name):
        return {"name": name, "email": f"{name}@example.com"}

    paid = book(client, booker, pet, graph="instant_payment", hour=9, action="create",
                customer=customer("payer"))
    assert sent() == []  # tentative: the booker is paying, nobody is mailed
    response = client.put(f"/v2/bookings/{paid['id']}/pay",
                          json={"pay": {"payment_id": "pi_1"}}, headers=booker)
    assert response.status_code == 200, response.json
    book(client, booker, pet, graph="instant_payment", hour=11, action="create",
         customer=customer("late"))
    assert sent() == [("payer@example.com", "Confirmed: Walk the dog")]
    assert client.put("/v2/testing/clock", json={"advance": "6 minutes"}).status_code == 200
    with mail_app.app_context():
        assert automation.run_due(settings=mail_app.config) == 1
    assert sent() == [("late@example.com", "Not paid in time: Walk the dog")]

    course = client.post("/v2/bookings", headers=owner, json={
        "graph": "group_owner", "action": "create", "resource_id": pet,
        "start": "2027-01-02T10:00:00Z", "end": "2027-01-02T11:00:00Z", "what": "Agility",
        "customer": customer("owner"), "settings": {"max_seats": 5}}).json["data"]
    seats = {}
    for name in ("ann", "bob", "cid", "dan"):
        response = client.post("/v2/bookings", headers=booker, json={
            "graph": "group_customer", "related": {"owner_booking_id": course["id"]},
            "customer": customer(name)})
        assert response.status_code == 201, response.json
        seats[name] = response.json["data"]["id"]
    assert sorted(sent()) == [(f"{n}@example.com", "Confirmed: Agility")
                              for n in ("ann", "bob", "cid", "dan")]
    assert client.put(f"/v2/bookings/{seats['dan']}/cancel_by_owner",
                      headers=owner).status_code == 200
    assert client.put(f"/v2/bookings/{seats['cid']}/cancel_by_customer",
                      headers=booker).status_code == 200
    assert sent() == [("dan@example.com", "Cancelled: Agility"),
                      ("owner@example.com", "Cancelled: Agility")]
    assert client.put(f"/v2/bookings/{course['id']}/cancel", headers=owner).status_code == 200
    while deliver_once(mail_app).claimed:
        pass
    cancelled = {m["To"]: m for m in mailbox.messages}
    assert set(cancelled) == {"ann@example.com", "bob@example.com"}
    for message in cancelled.values():
        assert message["Subject"] == "Class cancelled: Agility"
        (event,) = icalendar.Calendar.from_ical(
            attachments_of(message)["booking.ics"]).walk("VEVENT")
        assert str(event["status"]) == "CANCELLED"


def test_graph_json_names_the_class_cancellation_email(people):
    client = people[0]
    rules = client.get("/v2/bookings/graphs/group_customer").json["data"]["notifications"]
    assert {"on": "cancelled_by_owner", "email": ["customer"],
            "email_template": "booking_cancelled", "webhook": True, "not_to_actor": True,
            "class_cancelled_template": "class_cancelled_customer"} in rules
    graphs = client.get("/v2/bookings/graphs").json["data"]
    assert all(graph["notifications"] for graph in graphs)


# --- end to end through waitress ---------------------------------------------------------------

def test_webhooks_api_through_waitress(live_server):
    session = http_session(live_server.url, "hooker")
    created = session.post(f"{live_server.url}/webhooks",
                           json={"url": "https://93.184.216.34/hook"}, timeout=10)
    assert created.status_code == 201 and created.json()["data"]["secret"]
    hook = created.json()["data"]["id"]
    assert session.get(f"{live_server.url}/webhooks/{hook}/deliveries", timeout=10).json()[
        "total"] == 0
    assert session.post(f"{live_server.url}/webhooks", json={"url": "http://127.0.0.1/x"},
                        timeout=10).status_code == 400
    assert requests.get(f"{live_server.url}/webhooks", timeout=10).status_code == 401
    assert session.delete(f"{live_server.url}/webhooks/{hook}", timeout=10).status_code == 204


def test_webhook_rows_name_active_webhooks_only(napp, people, receiver):
    client, owner, booker, pet = people
    hook = subscribe(client, owner, receiver.url)
    client.delete(f"/v2/webhooks/{hook['id']}", headers=owner)
    book(client, booker, pet)
    with napp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0
    assert [d.channel for d in deliveries(napp)] == ["email"]
