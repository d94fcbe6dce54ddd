"""Pet lists and the inventory, reused by each process until any pet changes.

``findByStatus``, ``findByTags`` and the inventory read many rows, and the same answer is
asked for again and again between writes. Every write to a pet (insert, delete, update of
a column the wire shows), whatever path it takes, bumps ``catalog_version.version`` in the
same transaction: a database trigger does it (``database/triggers.py``), so any instance on
the database can ask, with one primary-key read, whether its cached answer is still current.
The version is read *before* the answer is computed, so an answer is never filed under a
version older than the data it holds. The row's random ``epoch`` tells databases apart, so
a process serving several (or a recreated one) never mixes their answers.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

import sqlalchemy as sa

from ..database import db
from ..database.models import CatalogVersion

MAX_CACHED_BYTES = 24 * 1024 * 1024  # per process; one 100,000-pet list is ~20 MiB

_versions = CatalogVersion.__table__
READ_VERSION = sa.select(_versions.c.epoch, _versions.c.version).where(_versions.c.id == 1)
class AnswerCache:
    """Answers keyed by (question, catalog version), bounded in bytes, oldest out first."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES):
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, question, compute: Callable[[], bytes]) -> bytes:
        version = db.session.connection().execute(READ_VERSION).first()
        if version is None:  # no pet was ever written: nothing worth keeping
            return compute()
        key = (question, *version)
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
                return answer
        answer = compute()
        if len(answer) <= self.max_bytes:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = answer
                    self._bytes += len(answer)
                while self._bytes > self.max_bytes:
                    _, old = self._entries.popitem(last=False)
                    self._bytes -= len(old)
        return answer

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


answers = AnswerCache()
