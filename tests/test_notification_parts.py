"""The notification building blocks against real components on 127.0.0.1.

A real HTTP receiver checks signatures from the raw body, a real SMTP server (aiosmtpd) receives
rendered mail, and the URL guard is fed real addresses; only DNS is faked, where a test needs a
name to resolve to a chosen address.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from random import Random

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from icalendar import Calendar

from notification_receivers import QuietHTTPServer
from timekit_api.domain.notifications import (
    emails,
    links,
    signing,
    urlguard,
    webhook_transport,
    webhooks,
)
from timekit_api.domain.notifications.ics import booking_calendar

SECRET = "whsec-test-secret"

BOOKING = {
    "id": "7d6c8c1e-5a1f-4a5e-9c3b-2f1e0d9c8b7a",
    "graph": "confirm_decline",
    "state": "confirmed",
    "completed": False,
    "available_actions": ["cancel"],
    "resource_id": 1,
    "created_at": "2026-03-01T09:00:00Z",
    "updated_at": "2026-03-01T09:05:00Z",
    "attributes": {"event_info": {
        "start": "2026-03-10T10:00:00+01:00",
        "end": "2026-03-10T11:30:00+01:00",
        "what": "Walk with <Rex> & friends",
        "where": "Central Park, gate 3",
        "description": "Bring a leash.\nAnd water.",
    }},
    "customers": [{"name": "Ann Example", "email": "ann@example.com", "phone": None,
                   "timezone": "Europe/Paris"}],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- signing ---------------------------------------------------------------------------------

def test_signatures_are_hmac_sha256_of_the_raw_body():
    body = b'{"a": 1}'
    assert signing.signature(SECRET, body) == hmac.new(
        SECRET.encode(), body, hashlib.sha256).hexdigest()
    header = signing.signature_v2(SECRET, body, 1_700_000_000.7)
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_v2_checks_body_secret_and_age():
    body, t = b"{}", 1_700_000_000
    header = signing.signature_v2(SECRET, body, t)
    assert signing.verify_v2(SECRET, body, header, now=t + 299)
    assert signing.verify_v2(SECRET, body, header, now=t - 299)  # small clock skew
    assert not signing.verify_v2(SECRET, body, header, now=t + 301)
    assert not signing.verify_v2(SECRET, body, header, now=t + 30, tolerance=10)
    assert not signing.verify_v2(SECRET, b"{ }", header, now=t)
    assert not signing.verify_v2("other", body, header, now=t)
    forged = header.replace("t=1700000000", "t=1700000100")  # fresh time, old mac: refused
    assert not signing.verify_v2(SECRET, body, forged, now=t + 100)
    for bad in (None, "", "garbage", "t=x,v1=00", f"v1={header.split('v1=')[1]}", "t=1,v1=é"):
        assert not signing.verify_v2(SECRET, body, bad, now=t)
    assert signing.verify(SECRET, body, signing.signature(SECRET, body))
    assert not signing.verify(SECRET, body, "0" * 64)


def test_generated_secrets_are_long_and_distinct():
    secrets_ = {signing.generate_secret() for _ in range(50)}
    assert len(secrets_) == 50 and all(len(s) >= 40 for s in secrets_)


# --- a real webhook receiver -----------------------------------------------------------------

class Receiver:
    """http.server in a thread: scripted answers, signature checks, and the order of arrivals."""

    def __init__(self, secret: str):
        self.secret = secret
        # (status, delay before answering); a negative delay stalls after the headers instead
        self.script: list[tuple[int, float]] = []
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                with receiver.lock:
                    status, delay = receiver.script.pop(0) if receiver.script else (200, 0.0)
                    receiver.received.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": raw,
                        "v1_ok": signing.verify(receiver.secret, raw,
                                                self.headers.get("x-timekit-signature")),
                        "v2_ok": signing.verify_v2(receiver.secret, raw,
                                                   self.headers.get("x-timekit-signature-v2"),
                                                   now=now),
                    })
                time.sleep(max(delay, 0))
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/followed")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.flush()
                time.sleep(max(-delay, 0))
                self.wfile.write(b"ok")

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


def body_of(booking: dict) -> bytes:
    return json.dumps(booking, separators=(",", ":")).encode()


def test_delivery_is_signed_and_carries_the_contract_headers(receiver):
    body = body_of(BOOKING)
    result = webhooks.deliver(receiver.url, SECRET, body, "booking.confirmed", "d-1",
                              allow_private=True)
    assert result == webhooks.DeliveryResult(200, None, gone=False, ok=True)
    [got] = receiver.received
    assert got["body"] == body and got["v1_ok"] and got["v2_ok"]
    headers = got["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-timekit-event"] == "booking.confirmed"
    assert headers["x-timekit-delivery"] == "d-1"
    assert headers["user-agent"] == "timekit-api-webhooks"
    assert json.loads(got["body"]) == BOOKING


def test_delivery_with_a_fixed_clock_signs_that_time(receiver):
    body = b"{}"
    webhooks.deliver(receiver.url, SECRET, body, "booking.tentative", "d-2",
                     allow_private=True, now=1_700_000_000)
    [got] = receiver.received
    assert got["headers"]["x-timekit-signature-v2"] == signing.signature_v2(
        SECRET, body, 1_700_000_000)
    assert not got["v2_ok"]  # the receiver's clock is now: an old signature is a replay


def test_receiver_answers_map_to_results_in_order(receiver):
    receiver.script = [(500, 0), (410, 0), (302, 0), (204, 0)]
    events = ["booking.tentative", "booking.confirmed", "booking.cancelled", "booking.completed"]
    results = [webhooks.deliver(receiver.url, SECRET, body_of(BOOKING), event, f"d-{i}",
                                allow_private=True) for i, event in enumerate(events)]
    assert [(r.status_code, r.ok, r.gone) for r in results] == [
        (500, False, False), (410, False, True), (302, False, False), (204, True, False)]
    assert results[0].error == "HTTP 500"
    assert "redirect" in results[2].error
    # the redirect was not followed, and arrivals are in the order sent
    assert [g["path"] for g in receiver.received] == ["/hook"] * 4
    assert [g["headers"]["x-timekit-event"] for g in receiver.received] == events
    assert all(g["v1_ok"] and g["v2_ok"] for g in receiver.received)


def test_a_slow_receiver_times_out(receiver):
    receiver.script = [(200, 2.0)]
    started = time.monotonic()
    result = webhooks.deliver(receiver.url, SECRET, b"{}", "booking.confirmed", "d-slow",
                              allow_private=True, timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert not result.ok and result.status_code is None and not result.gone
    assert "0.3" in result.error


def test_a_2xx_that_stalls_in_its_body_still_counts(receiver):
    receiver.script = [(202, -2.0)]
    started = time.monotonic()
    result = webhooks.deliver(receiver.url, SECRET, b"{}", "booking.confirmed", "d-stall",
                              allow_private=True, timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert result.ok and result.status_code == 202


def test_a_closed_port_is_an_error_not_an_exception():
    result = webhooks.deliver(f"http://127.0.0.1:{free_port()}/", SECRET, b"{}",
                              "booking.confirmed", "d-x", allow_private=True, timeout=2)
    assert not result.ok and result.status_code is None and result.error


def test_delivery_refuses_the_local_receiver_without_allow_private(receiver):
    result = webhooks.deliver(receiver.url, SECRET, b"{}", "booking.confirmed", "d-3")
    assert not result.ok and result.status_code is None
    assert "loopback" in result.error
    assert receiver.received == []
    result = webhooks.deliver("ftp://example.com/", SECRET, b"{}", "booking.confirmed", "d-4")
    assert not result.ok and "http or https" in result.error


def fake_dns(monkeypatch, answers: dict[str, list]):
    """Make chosen names resolve to chosen addresses; a list of lists answers call by call."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            entry = answers[host]
            addresses = entry.pop(0) if entry and isinstance(entry[0], list) else entry
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (a, port or 0) if ":" not in a else (a, port or 0, 0, 0)) for a in addresses]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_dns_rebinding_between_check_and_connect_is_refused(receiver, monkeypatch):
    # the first lookup (the check) says public, the one at connect time says loopback
    fake_dns(monkeypatch, {"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    result = webhooks.deliver(f"http://rebind.test:{receiver.port}/hook", SECRET, b"{}",
                              "booking.confirmed", "d-5")
    assert not result.ok and "loopback" in result.error
    assert receiver.received == []


def test_the_connection_goes_to_the_checked_address(receiver, monkeypatch):
    """Pinning: the socket opens to what the guard returned, the Host header keeps the name."""
    checked = []

    def resolve_host(host, port, *, allow_private=False):
        checked.append((host, port))
        return [(socket.AF_INET, "127.0.0.1")]

    monkeypatch.setattr(webhook_transport, "resolve_host", resolve_host)
    monkeypatch.setattr(webhooks, "resolve_public", lambda url, allow_private=False: [])
    result = webhooks.deliver(f"http://receiver.test:{receiver.port}/hook", SECRET, b"{}",
                              "booking.confirmed", "d-6")
    assert result.ok, result
    assert checked == [("receiver.test", receiver.port)]
    assert receiver.received[0]["headers"]["host"] == f"receiver.test:{receiver.port}"


def test_backoff_schedule_with_jitter_then_failed():
    rng = Random(1)
    expected = [10, 60, 300, 1800, 7200, 21600, 43200]
    for attempts, seconds in enumerate(expected, start=1):
        delay = webhooks.next_attempt_delay(attempts, rng=rng)
        assert isinstance(delay, timedelta)
        assert seconds * 0.9 <= delay.total_seconds() <= seconds * 1.1
    assert webhooks.next_attempt_delay(len(expected) + 1) is None
    assert webhooks.next_attempt_delay(0) is None
    assert len({webhooks.next_attempt_delay(1) for _ in range(20)}) > 1  # jittered


# --- URL guard -------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1:8080/", "http://2130706433/", "http://0x7f.0.0.1/",
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://100.64.0.1/",
    "http://224.0.0.1/", "http://240.0.0.1/", "http://255.255.255.255/", "http://198.18.0.1/",
    "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://[ff02::1]/", "http://[64:ff9b::7f00:1]/", "http://[2002:c0a8:101::1]/",
    "http://localhost:5000/hook", "https://LOCALHOST./",
])
def test_non_public_addresses_are_refused(url):
    with pytest.raises(urlguard.UnsafeUrl):
        urlguard.validate_url(url)
    with pytest.raises(urlguard.UnsafeUrl):
        urlguard.resolve_public(url)


@pytest.mark.parametrize("url", [
    "ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)",
    "//example.com/hook", "example.com/hook", "http:///hook", "http://", "",
    "http://exa mple.com/", "http://example.com/\r\nX: y", "http://example.com:99999/",
    "http://example.com:0/", "http://[::1/", "https://" + "a" * 3000 + ".com/",
])
def test_malformed_urls_and_other_schemes_are_refused(url):
    with pytest.raises(urlguard.UnsafeUrl) as caught:
        urlguard.validate_url(url, allow_private=True)
    assert str(caught.value)


def test_messages_say_why():
    with pytest.raises(urlguard.UnsafeUrl, match="169.254.169.254, a link-local"):
        urlguard.validate_url("http://169.254.169.254/")
    with pytest.raises(urlguard.UnsafeUrl, match="loopback.*inside ::ffff:7f00:1"):
        urlguard.validate_url("http://[::ffff:127.0.0.1]/")
    with pytest.raises(urlguard.UnsafeUrl, match="http or https, not 'ftp'"):
        urlguard.validate_url("ftp://example.com/")
    assert issubclass(urlguard.UnsafeUrl, ValueError)


@pytest.mark.parametrize("url,family", [
    ("http://93.184.216.34/hook", socket.AF_INET),
    ("https://8.8.8.8:8443/x?y=1", socket.AF_INET),
    ("https://[2606:4700:4700::1111]/hook", socket.AF_INET6),
])
def test_public_literal_addresses_pass(url, family):
    assert urlguard.validate_url(url) == url
    assert [f for f, _ in urlguard.resolve_public(url)] == [family]


def test_every_address_of_a_name_must_be_public(monkeypatch):
    fake_dns(monkeypatch, {"mixed.test": ["93.184.216.34", "10.1.2.3"],
                           "public.test": ["93.184.216.34", "2606:4700:4700::1111"],
                           "mapped.test": ["::ffff:192.168.0.1"]})
    with pytest.raises(urlguard.UnsafeUrl, match="10.1.2.3"):
        urlguard.resolve_public("https://mixed.test/")
    with pytest.raises(urlguard.UnsafeUrl, match="192.168.0.1"):
        urlguard.resolve_public("https://mapped.test/")
    assert urlguard.resolve_public("https://public.test/") == [
        (socket.AF_INET, "93.184.216.34"), (socket.AF_INET6, "2606:4700:4700::1111")]


def test_unresolvable_hosts_and_allow_private():
    with pytest.raises(urlguard.UnresolvableHost):
        urlguard.validate_url("https://no-such-host.invalid/")
    # local setups: private addresses and not-yet-resolvable names are accepted
    assert urlguard.validate_url("http://no-such-host.invalid/", allow_private=True)
    assert urlguard.validate_url("http://127.0.0.1:9/", allow_private=True)
    addresses = urlguard.resolve_public("http://localhost:9/", allow_private=True)
    assert all(not urlguard.is_public_address(a) for _, a in addresses) and addresses


# --- iCalendar -------------------------------------------------------------------------------

def test_booking_calendar_round_trips_through_icalendar():
    raw = booking_calendar(BOOKING, prodid="-//Timekit API//test//EN",
                           organizer_email="owner@example.com", uid_domain="pets.example")
    calendar = Calendar.from_ical(raw)
    assert str(calendar["method"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]) == f"{BOOKING['id']}@pets.example"
    assert event.decoded("dtstart").isoformat() == "2026-03-10T09:00:00+00:00"
    assert event.decoded("dtend").isoformat() == "2026-03-10T10:30:00+00:00"
    assert str(event["summary"]) == "Walk with <Rex> & friends"
    assert str(event["location"]) == "Central Park, gate 3"
    assert str(event["description"]) == "Bring a leash.\nAnd water."
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["organizer"]) == "mailto:owner@example.com"
    assert str(event["attendee"]) == "mailto:ann@example.com"
    assert b"DTSTART:20260310T090000Z" in raw


@pytest.mark.parametrize("state,status,method", [
    ("tentative", "TENTATIVE", "PUBLISH"), ("paid", "CONFIRMED", "PUBLISH"),
    ("cancelled", "CANCELLED", "CANCEL"), ("declined", "CANCELLED", "CANCEL"),
    ("cancelled_by_owner", "CANCELLED", "CANCEL"), ("unpaid", "CANCELLED", "CANCEL"),
])
def test_calendar_status_follows_the_booking_state(state, status, method):
    calendar = Calendar.from_ical(booking_calendar({**BOOKING, "state": state}, prodid="-//x//EN"))
    assert str(calendar["method"]) == method
    assert str(calendar.walk("VEVENT")[0]["status"]) == status


# --- action links ----------------------------------------------------------------------------

KEY = "server-secret-key"


def test_action_token_round_trip():
    token = links.make_action_token(KEY, BOOKING["id"], "confirm", "nonce-1")
    assert links.read_action_token(KEY, token, 3600) == (BOOKING["id"], "confirm", "nonce-1")
    assert links.read_action_token(KEY, token, 3600, booking_id=BOOKING["id"],
                                   action="confirm")[2] == "nonce-1"
    assert all(c.isalnum() or c in "-_." for c in token)  # safe in ?signature= unquoted


def test_tampered_and_foreign_tokens_are_invalid():
    token = links.make_action_token(KEY, BOOKING["id"], "confirm", "nonce-1")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token + "x", "", "not-a-token", token.replace(".", "", 1)):
        with pytest.raises(links.InvalidLink):
            links.read_action_token(KEY, bad, 3600)
    with pytest.raises(links.InvalidLink):
        links.read_action_token("another-key", token, 3600)
    with pytest.raises(links.InvalidLink, match="another action"):
        links.read_action_token(KEY, token, 3600, action="decline")
    with pytest.raises(links.InvalidLink, match="another booking"):
        links.read_action_token(KEY, token, 3600, booking_id="someone-else")


def test_wrong_purpose_is_invalid():
    token = links.make_action_token(KEY, BOOKING["id"], "confirm", "n", purpose="unsubscribe")
    with pytest.raises(links.InvalidLink) as caught:
        links.read_action_token(KEY, token, 3600)
    assert not isinstance(caught.value, links.ExpiredLink)


def test_expired_tokens():
    issued = 1_700_000_000
    token = links.make_action_token(KEY, "b", "decline", "n", now=issued)
    assert links.read_action_token(KEY, token, 60, now=issued + 60)[1] == "decline"
    with pytest.raises(links.ExpiredLink):
        links.read_action_token(KEY, token, 60, now=issued + 61)
    with pytest.raises(links.ExpiredLink):
        links.read_action_token(KEY, token, 0, now=issued + 1)
    with pytest.raises(links.ExpiredLink):  # real clock: issued long ago
        links.read_action_token(KEY, token, 3600)
    assert issubclass(links.ExpiredLink, links.InvalidLink)


def test_key_rotation_accepts_old_tokens():
    token = links.make_action_token("old-key", "b", "confirm", "n")
    assert links.read_action_token(["old-key", "new-key"], token, 60)[0] == "b"
    new = links.make_action_token(["old-key", "new-key"], "b", "confirm", "n")
    assert links.read_action_token("new-key", new, 60)[0] == "b"


# --- emails with a real SMTP server -------------------------------------------------------------

class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    sink = Sink()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"mail-pw", handled=False)

    controller = Controller(sink, hostname="127.0.0.1", port=free_port(),
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        yield controller, sink, logins
    finally:
        controller.stop()


CONTEXT = {"booking": BOOKING, "recipient_name": "Ann Example", "site_name": "Timekit Pets"}


def parse(envelope) -> email.message.EmailMessage:
    return email.message_from_bytes(envelope.original_content or envelope.content,
                                    policy=email.policy.default)


def test_confirmation_email_with_calendar_attachment_over_smtp(smtp_server):
    controller, sink, _ = smtp_server
    subject, text, html = emails.render_email("booking_confirmed_customer", CONTEXT)
    ics = booking_calendar(BOOKING, prodid="-//Timekit API//EN")
    message = emails.build_message("Timekit Pets <noreply@pets.example>", ["ann@example.com"],
                                   subject, text, html,
                                   attachments=[("booking.ics", "text/calendar; method=PUBLISH",
                                                 ics)])
    emails.send_message(message, host=controller.hostname, port=controller.port)

    [envelope] = sink.envelopes
    assert envelope.mail_from == "noreply@pets.example"
    assert envelope.rcpt_tos == ["ann@example.com"]
    received = parse(envelope)
    assert received["Subject"] == "Confirmed: Walk with <Rex> & friends"
    assert received.get_content_type() == "multipart/mixed"
    assert received["Message-ID"].endswith("@pets.example>")
    plain = received.get_body(("plain",)).get_content()
    rich = received.get_body(("html",)).get_content()
    assert "Your booking is confirmed" in plain and "Walk with <Rex> & friends" in plain
    assert "Tuesday 10 March 2026, 10:00 (Europe/Paris)" in plain
    assert "Walk with &lt;Rex&gt; &amp; friends" in rich and "<Rex>" not in rich
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "booking.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    calendar = Calendar.from_ical(attachment.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert str(event["uid"]).startswith(BOOKING["id"])
    assert str(event["status"]) == "CONFIRMED"


def test_owner_request_email_carries_working_links(smtp_server):
    controller, sink, logins = smtp_server
    base = f"https://pets.example/v2/bookings/{BOOKING['id']}/external_action"
    tokens = {a: links.make_action_token(KEY, BOOKING["id"], a, f"nonce-{a}")
              for a in ("confirm", "decline")}
    context = {**CONTEXT, "recipient_name": "Owner O'Neil",
               "booking": {**BOOKING, "state": "tentative"},
               "confirm_url": f"{base}/confirm?signature={tokens['confirm']}",
               "decline_url": f"{base}/decline?signature={tokens['decline']}",
               "message": "Can we start at <b>10</b>?", "timezone": "UTC"}
    subject, text, html = emails.render_email("booking_request_owner", context)
    message = emails.build_message("noreply@pets.example", "owner@example.com", subject, text,
                                   html)
    emails.send_message(message, host=controller.hostname, port=controller.port,
                        username="mailer", password="mail-pw")
    assert logins == [(b"mailer", b"mail-pw")]

    received = parse(sink.envelopes[0])
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",)).get_content()
    rich = received.get_body(("html",)).get_content()
    assert context["confirm_url"] in plain and context["decline_url"] in plain
    assert f'href="{context["confirm_url"]}"' in rich
    assert "Owner O&#39;Neil" in rich and "&lt;b&gt;10&lt;/b&gt;" in rich
    assert "09:00 (UTC)" in plain
    # the token in the mailed link reads back to what was signed
    token = plain.split("/confirm?signature=")[1].split()[0]
    assert links.read_action_token(KEY, token, 3600, action="confirm") == (
        BOOKING["id"], "confirm", "nonce-confirm")


def test_wrong_smtp_password_and_missing_starttls_raise(smtp_server):
    import smtplib

    controller, sink, _ = smtp_server
    message = emails.build_message("a@pets.example", "b@example.com", "s", "t")
    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        emails.send_message(message, host=controller.hostname, port=controller.port,
                            username="mailer", password="wrong-secret-pw")
    assert "wrong-secret-pw" not in str(caught.value)
    with pytest.raises(smtplib.SMTPNotSupportedError):  # never falls back to plain text
        emails.send_message(message, host=controller.hostname, port=controller.port,
                            use_tls=True)
    assert sink.envelopes == []


@pytest.mark.parametrize("kind", sorted(emails.KINDS))
def test_every_kind_renders(kind):
    context = {**CONTEXT, "confirm_url": "https://x/c", "decline_url": "https://x/d"}
    subject, text, html = emails.render_email(kind, context)
    assert subject and "\n" not in subject
    assert "Walk with <Rex> & friends" in text and BOOKING["id"] in text
    assert html.lstrip().startswith("<!DOCTYPE html>") and "&lt;Rex&gt;" in html


def test_bookings_without_customer_or_place_render():
    bare = {**BOOKING, "customers": [],
            "attributes": {"event_info": {"start": "2026-03-10T09:00:00Z",
                                          "end": "2026-03-10T10:00:00Z", "what": "Walk"}}}
    subject, text, html = emails.render_email("booking_cancelled", {**CONTEXT, "booking": bare})
    assert subject == "Cancelled: Walk" and "Where" not in text and "Customer" not in html
    assert "09:00 (UTC)" in text  # no customer timezone: UTC


def test_missing_context_and_unknown_kind():
    with pytest.raises(emails.UnknownEmail, match="confirm_url"):
        emails.render_email("booking_request_owner", CONTEXT)
    with pytest.raises(emails.UnknownEmail):
        emails.render_email("no_such_email", CONTEXT)


def test_operator_override_dir_wins_file_by_file(tmp_path):
    (tmp_path / "booking_declined.subject.txt").write_text("Sorry\n about {{ event.what }}")
    (tmp_path / "booking_declined.html").write_text("<p>Custom {{ event.what }}</p>")
    subject, text, html = emails.render_email("booking_declined", CONTEXT,
                                              override_dir=tmp_path)
    assert subject == "Sorry about Walk with <Rex> & friends"
    assert html == "<p>Custom Walk with &lt;Rex&gt; &amp; friends</p>"  # still escaped
    assert "Your booking request was declined" in text  # not overridden: the package's
    _, _, default_html = emails.render_email("booking_declined", CONTEXT)
    assert "<p>Custom" not in default_html
