"""A booking's state at a moment: its due automatic transition counts as done (contract
section 6, "every answer is right at the moment it is given"). One rule, in SQL and in
Python, read by the engine, the seat count of classes and availability's busy time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa

from ...database.models import Booking


def effective_state(now: dt.datetime, entity=Booking):
    """SQL: the booking's state at ``now`` (its due automatic transition counts as done)."""
    return sa.case((entity.due_at <= now, entity.due_state), else_=entity.state)


def effective_state_in(states: Iterable[str], now: dt.datetime, entity=Booking):
    """SQL: the booking's state at ``now`` is one of ``states``; written so that the
    ``state`` column's indexes still serve (a due booking can only be in ``due_state``).
    ``states`` may be an expanding bound parameter (a statement built once)."""
    if not isinstance(states, sa.BindParameter):
        states = sorted(states)
    return sa.or_(
        sa.and_(entity.state.in_(states), sa.or_(entity.due_at.is_(None), entity.due_at > now)),
        sa.and_(entity.due_at <= now, entity.due_state.in_(states)))


def state_at(booking, now: dt.datetime) -> str:
    """Python's twin of :func:`effective_state`, for a loaded booking (or row)."""
    if booking.due_at is not None and booking.due_at <= now:
        return booking.due_state
    return booking.state
