"""Housekeeping: the worker deletes what can no longer be used (contract section 9).

- expired access tokens (``api_tokens.expires_at`` passed): they authenticate nobody;
- emailed action-link nonces older than the links' lifetime: their signatures have expired;
- ``Idempotency-Key`` records older than their TTL: already treated as absent;
- notifications delivered (or skipped) more than ``DELIVERY_RETENTION_DAYS`` ago. Pending and
  failed rows stay: the first are still to be sent, the second may be redelivered by hand.

Rows go in batches of ``BATCH`` per statement and commit, so a purge never holds a long write
lock (SQLite has one writer) and a worker stopped midway leaves a smaller but valid backlog.
Several workers purging at once is harmless: a row is deleted once, the other DELETE skips it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from ..database import db
from ..database.models import ActionLink, ApiToken, Delivery, IdempotencyRecord
from .notifications.outbox import DELIVERED, SKIPPED

BATCH = 1000
DONE_DELIVERIES = (DELIVERED, SKIPPED)


@dataclass
class Purged:
    """How many rows one :func:`purge` deleted, per kind."""

    tokens: int = 0
    action_links: int = 0
    idempotency_records: int = 0
    deliveries: int = 0

    @property
    def total(self) -> int:
        return self.tokens + self.action_links + self.idempotency_records + self.deliveries


def _delete_in_batches(model, condition) -> int:
    key = sa.inspect(model).primary_key[0]
    deleted = 0
    while True:
        batch = sa.select(key).where(condition).limit(BATCH).scalar_subquery()
        result = db.session.execute(sa.delete(model).where(key.in_(batch)),
                                    execution_options={"synchronize_session": False})
        db.session.commit()
        deleted += result.rowcount
        if result.rowcount < BATCH:
            return deleted


def purge(now: dt.datetime, settings: Mapping) -> Purged:
    """Delete what expired before ``now`` (the service clock) by the settings' lifetimes."""
    link_age = dt.timedelta(seconds=int(settings["ACTION_LINK_MAX_AGE_SECONDS"]))
    idempotency_age = dt.timedelta(seconds=int(settings["IDEMPOTENCY_KEY_TTL_SECONDS"]))
    retention = dt.timedelta(days=float(settings["DELIVERY_RETENTION_DAYS"]))
    return Purged(
        tokens=_delete_in_batches(ApiToken, ApiToken.expires_at <= now),
        action_links=_delete_in_batches(ActionLink, ActionLink.created_at < now - link_age),
        idempotency_records=_delete_in_batches(
            IdempotencyRecord, IdempotencyRecord.created_at < now - idempotency_age),
        deliveries=_delete_in_batches(Delivery, sa.and_(
            Delivery.status.in_(DONE_DELIVERIES), Delivery.delivered_at < now - retention)),
    )
