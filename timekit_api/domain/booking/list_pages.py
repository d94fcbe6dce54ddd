"""Rendered pages of ``GET /bookings``, reused by each process while they are still right.

A page of 50 bookings with their histories costs ~9 ms of CPU to load and dump (ORM rows,
then the schema), and clients ask for the same page again and again (a dashboard polling
its first page). A page is a function of two things only: the rows of ``bookings`` and
``booking_transitions`` (with the usernames a history shows), and the service's time, which
matters only when it passes a booking's ``due_at`` (its automatic transition then reads as
applied, ``engine.state_at``). So a rendered page is kept with

- the database's ``booking_list_version`` when it was made: triggers bump it on every
  write to either table and every renamed user, whatever path writes
  (``database/triggers.py``), so one primary-key read tells every instance whether anything
  changed; the version is read *before* the page is computed, so a page is never filed
  under a version older than the data it shows; the catalog's ``epoch`` tells databases
  apart;
- the service time it was made at and the first ``due_at`` after it: it is reused only in
  between (a test clock moved back, or time reaching the next due transition, recomputes).

Pages are small (tens of KB for 50 bookings), kept in memory within a budget, least recently
used out first; a key holds everything the rendered bytes depend on besides the data (the
viewer, the query as sent, the links' base path). Measured: benchmarks/PROFILE.md.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Hashable

import sqlalchemy as sa

from ...database import db
from ...database.models import Booking, BookingListVersion, CatalogVersion
from .. import clock

MAX_PAGE_BYTES = 512 * 1024  # a larger page is not kept
MAX_MEMORY_BYTES = 4 * 1024 * 1024  # every kept page together, per process

_versions = BookingListVersion.__table__
_catalog = CatalogVersion.__table__
READ_VERSION = (sa.select(_catalog.c.epoch, _versions.c.version)
                .select_from(_catalog.join(_versions, _versions.c.id == 1))
                .where(_catalog.c.id == 1))
_bookings = Booking.__table__
NEXT_DUE = sa.select(sa.func.min(_bookings.c.due_at)).where(
    _bookings.c.due_at > sa.bindparam("now"))


@dataclasses.dataclass(frozen=True)
class Page:
    body: bytes
    version: tuple
    made_at: dt.datetime
    next_due: dt.datetime | None

    def current_at(self, version: tuple, now: dt.datetime) -> bool:
        return (version == self.version and self.made_at <= now
                and (self.next_due is None or now < self.next_due))


class PageCache:
    def __init__(self, max_memory: int = MAX_MEMORY_BYTES, max_page: int = MAX_PAGE_BYTES):
        self.max_memory, self.max_page = max_memory, max_page
        self._pages: collections.OrderedDict[Hashable, Page] = collections.OrderedDict()
        self._memory = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[dt.datetime], bytes]) -> bytes:
        """The page ``render(now)`` makes, reused while no booking changed and no
        automatic transition fell due since it was made."""
        version = tuple(db.session.connection().execute(READ_VERSION).first() or ())
        now = clock.now()
        if not version:  # a database made without migrations: nothing to validate with
            return render(now)
        with self._lock:
            page = self._pages.get(key)
            if page is not None and page.current_at(version, now):
                self._pages.move_to_end(key)
                return page.body
        next_due = db.session.scalar(NEXT_DUE, {"now": now})
        body = render(now)
        if len(body) <= self.max_page:
            self._keep(key, Page(body, version, now, next_due))
        return body

    def _keep(self, key: Hashable, page: Page) -> None:
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._memory -= len(old.body)
            self._pages[key] = page
            self._memory += len(page.body)
            while self._memory > self.max_memory:
                _, oldest = self._pages.popitem(last=False)
                self._memory -= len(oldest.body)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._memory = 0


pages = PageCache()
