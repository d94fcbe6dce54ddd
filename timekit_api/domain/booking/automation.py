"""Recording due automatic transitions: what a worker does each round.

Reads are already right without this (``engine.effective_state``); recording makes the
history and the columns catch up, once, with ``actor: system`` at the due time.

Sharing the work between any number of workers without doing a job twice: each pet's due
bookings are settled in one transaction that holds the per-pet lock, and are re-read under
it (``due_at`` is cleared by the transaction that records the transition), so a second
worker, or a person acting at the same moment, finds nothing left to do. On PostgreSQL a
worker claims the pet with ``SELECT ... FOR UPDATE SKIP LOCKED`` on its row: a pet that
another worker (or a request) holds is skipped this round instead of waited for, so
workers spread over different pets. Claiming the pet's row, not the booking's, keeps one
lock order (pet, then bookings) for people and workers alike: no deadlock. On SQLite the
lock is the database's single writer. A worker killed mid-round loses only its
uncommitted pet, which stays due and is recorded by the next round.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from ...database import db
from ...database.models import Booking, Pet
from .. import clock
from .engine import DEFAULT_SETTINGS, lock_resource, settle

_pets = Pet.__table__


def _claim(pet_id: int) -> bool:
    """Take the pet's booking lock for this transaction; False if someone else holds it
    (PostgreSQL) or the pet is gone."""
    if db.session.get_bind().dialect.name == "postgresql":
        claimed = db.session.execute(sa.select(_pets.c.id).where(_pets.c.id == pet_id)
                                     .with_for_update(skip_locked=True)).first()
        return claimed is not None
    lock_resource(pet_id)  # SQLite: the write lock, waited for
    return True


def run_due(now: dt.datetime | None = None, limit: int = 500,
            settings: Mapping = DEFAULT_SETTINGS) -> int:
    """Record up to about ``limit`` automatic transitions due at ``now`` (default: the
    service's clock); returns how many were recorded. Each pet is its own transaction."""
    now = now or clock.now()
    due = db.session.execute(
        sa.select(Booking.resource_id).where(Booking.due_at <= now)
        .group_by(Booking.resource_id).order_by(sa.func.min(Booking.due_at))
        .limit(limit)).scalars().all()
    db.session.rollback()  # end the read: each pet's work starts with its lock
    recorded = 0
    for pet_id in due:
        try:
            if not _claim(pet_id):
                db.session.rollback()
                continue
            bookings = db.session.execute(
                sa.select(Booking).options(lazyload(Booking.transitions))
                .where(Booking.resource_id == pet_id, Booking.due_at <= now)
                .order_by(Booking.due_at).limit(limit)).scalars().all()
            recorded += sum(settle(booking, now, settings) for booking in bookings)
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
    return recorded
