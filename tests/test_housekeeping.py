"""Housekeeping (contract section 9): the worker, and `timekit-api purge`, delete expired
tokens and action links, idempotency records past their TTL and old delivered notifications,
and nothing that can still be used."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from timekit_api.database import db
from timekit_api.database.models import ActionLink, ApiToken, Delivery, IdempotencyRecord
from timekit_api.domain import clock, housekeeping
from timekit_api.worker import Worker

DAY = dt.timedelta(days=1)


@pytest.fixture
def aged(app, api):
    """Rows on both sides of every lifetime, by name; returns the service's now."""
    headers = api.user("keeper")  # one live token, from a real sign-in
    assert headers
    with app.app_context():
        now = clock.now()
        user_id = db.session.scalar(sa.select(ApiToken.user_id))
        for name, expires in (("expired", now - dt.timedelta(seconds=1)), ("live", now + DAY)):
            db.session.add(ApiToken(digest=name.ljust(64, "0"), user_id=user_id, kind="login",
                                    created_at=now - 2 * DAY, expires_at=expires))
        link_age = dt.timedelta(seconds=app.config["ACTION_LINK_MAX_AGE_SECONDS"])
        db.session.add(ActionLink(nonce="old", booking_id="b", created_at=now - link_age - DAY))
        db.session.add(ActionLink(nonce="new", booking_id="b", created_at=now - DAY / 2))
        ttl = dt.timedelta(seconds=app.config["IDEMPOTENCY_KEY_TTL_SECONDS"])
        for key, created in (("old", now - ttl - DAY), ("new", now - ttl / 2)):
            db.session.add(IdempotencyRecord(caller="user:1", key=key, request="POST /v2/pet",
                                             body_digest="d", claim="c", created_at=created))
        for event, status, delivered in (
                ("old-delivered", "delivered", now - 31 * DAY),
                ("old-skipped", "skipped", now - 31 * DAY),
                ("new-delivered", "delivered", now - 29 * DAY),
                ("old-failed", "failed", None),
                ("old-pending", "pending", None)):
            db.session.add(Delivery(channel="email", event=event, status=status,
                                    created_at=now - 40 * DAY, next_attempt_at=now - 40 * DAY,
                                    delivered_at=delivered))
        db.session.commit()
        return now


def remaining(app):
    with app.app_context():
        return {
            "tokens": db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)),
            "links": set(db.session.scalars(sa.select(ActionLink.nonce))),
            "keys": set(db.session.scalars(sa.select(IdempotencyRecord.key))),
            "deliveries": set(db.session.scalars(sa.select(Delivery.event))),
        }


def test_purge_deletes_what_expired_and_keeps_the_rest(app, aged):
    purged = Worker(app).purge()
    assert (purged.tokens, purged.action_links, purged.idempotency_records,
            purged.deliveries) == (1, 1, 1, 2)
    assert remaining(app) == {"tokens": 2, "links": {"new"}, "keys": {"new"},
                              "deliveries": {"new-delivered", "old-failed", "old-pending"}}
    assert Worker(app).purge().total == 0  # nothing left to do


def test_the_worker_purges_at_its_first_round_then_once_an_interval(app, aged):
    worker = Worker(app)
    worker.run_once()
    assert remaining(app)["links"] == {"new"}
    with app.app_context():
        db.session.add(ActionLink(nonce="older", booking_id="b",
                                  created_at=aged - 30 * DAY))
        db.session.commit()
    worker.run_once()  # within the interval: not yet
    assert remaining(app)["links"] == {"new", "older"}
    worker.next_purge = 0  # the interval has passed
    worker.run_once()
    assert remaining(app)["links"] == {"new"}


def test_large_backlogs_go_in_batches(app, aged, monkeypatch):
    monkeypatch.setattr(housekeeping, "BATCH", 2)
    with app.app_context():
        for number in range(5):
            db.session.add(ActionLink(nonce=f"stale{number}", booking_id="b",
                                      created_at=aged - 30 * DAY))
        db.session.commit()
    assert Worker(app).purge().action_links == 6
    assert remaining(app)["links"] == {"new"}


def test_the_purge_command(app, aged, runner):
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("Purged 1 token(s), 1 action link(s), "
                                     "1 idempotency record(s), 2 notification(s).")
    assert remaining(app)["deliveries"] == {"new-delivered", "old-failed", "old-pending"}
