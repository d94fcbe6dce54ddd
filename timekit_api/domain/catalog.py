"""Pet lists and the inventory, reused by each process until any pet changes.

``findByStatus``, ``findByTags`` and the inventory read many rows, and the same answer is
asked for again and again between writes. Every write to a pet (insert, delete, update of
a column the wire shows), whatever path it takes, bumps ``catalog_version.version`` in the
same transaction: a database trigger does it (``database/triggers.py``), so any instance on
the database can ask, with one primary-key read, whether its cached answer is still current.
The version is read *before* the answer is computed, so an answer is never filed under a
version older than the data it holds. The row's random ``epoch`` tells databases apart, so
a process serving several (or a recreated one) never mixes their answers.

Large answers live in temporary files, not in the process's memory: a 100,000-pet list is
7 MB, and several of them held (and copied for several connections) at once made the
process's peak memory. An answer is written to its file in chunks as the database hands the
rows over, and served from the file (``http/responses.py``: ``wsgi.file_wrapper``), so
neither computing nor serving it holds the whole list in memory. Small answers (the
inventory, lists up to 256 KiB) stay in memory within a small budget; the least recently used
of them move to files beyond it. Measurements: benchmarks/PROFILE.md.
"""

from __future__ import annotations

import collections
import io
import os
import tempfile
import threading
from collections.abc import Callable
from typing import BinaryIO

import sqlalchemy as sa

from ..database import db
from ..database.models import CatalogVersion

# Kept in memory up to this (while the budget allows). At 1 MiB, 8 clients of findByTags
# at 100,000 pets (800 KB answers, read into memory, then moved to files past the budget)
# left 15 MiB of freed holes in the threads' heaps (benchmarks/PROFILE.md, "memory").
SMALL_ANSWER_BYTES = 256 * 1024
MAX_MEMORY_BYTES = 4 * 1024 * 1024  # small answers, per process
MAX_FILE_BYTES = 256 * 1024 * 1024  # large answers, per process, on disk

_versions = CatalogVersion.__table__
READ_VERSION = sa.select(_versions.c.epoch, _versions.c.version).where(_versions.c.id == 1)


class Answer:
    """One computed answer: its bytes (small) or the temporary file holding them (large).
    A file is removed when the answer leaves the cache, or at once for an answer never
    cached; readers that opened it first still read it to the end (POSIX unlink)."""

    __slots__ = ("data", "path", "size")

    def __init__(self, data: bytes | None, path: str | None, size: int):
        self.data, self.path, self.size = data, path, size

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")  # noqa: SIM115

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as file:
            return file.read()

    def discard(self) -> None:
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


class AnswerCache:
    """Answers keyed by (question, catalog version), bounded in memory and on disk, oldest
    out first."""

    def __init__(self, max_memory: int = MAX_MEMORY_BYTES, max_files: int = MAX_FILE_BYTES,
                 small: int = SMALL_ANSWER_BYTES):
        self.max_memory, self.max_files, self.small = max_memory, max_files, small
        self._entries: collections.OrderedDict[tuple, Answer] = collections.OrderedDict()
        self._memory = self._files = 0
        self._lock = threading.Lock()
        self._folder = None
        self._folder_pid = None

    def _folder_path(self) -> str:
        """This process's own folder, made on first use: a forked worker (a server that
        preloads the app) must not share, or remove at its exit, its parent's files."""
        if self._folder_pid != os.getpid():
            with self._lock:
                if self._folder_pid != os.getpid():
                    self._entries.clear()
                    self._memory = self._files = 0
                    self._folder = tempfile.TemporaryDirectory(prefix="timekit-answers-")
                    self._folder_pid = os.getpid()
        return self._folder.name

    def compute(self, write: Callable[[BinaryIO], None]) -> Answer:
        """Run ``write`` into a new temporary file; small results move into memory."""
        descriptor, path = tempfile.mkstemp(dir=self._folder_path(), suffix=".json")
        try:
            with os.fdopen(descriptor, "wb") as file:
                write(file)
                size = file.tell()
        except BaseException:
            os.unlink(path)
            raise
        if size > self.small:
            return Answer(None, path, size)
        with open(path, "rb") as file:
            data = file.read()
        os.unlink(path)
        return Answer(data, None, size)

    def get(self, question, write: Callable[[BinaryIO], None]) -> Answer:
        self._folder_path()
        version = db.session.connection().execute(READ_VERSION).first()
        if version is None:  # no pet was ever written: nothing worth keeping
            return self._uncached(self.compute(write))
        key = (question, *version)
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
                return answer
        answer = self.compute(write)
        with self._lock:
            if key in self._entries:
                answer.discard()
                return self._entries[key]
            in_memory = answer.data is not None
            if answer.size > (self.max_memory if in_memory else self.max_files):
                return self._uncached(answer)
            self._entries[key] = answer
            self._account(answer, +1)
            # Over the memory budget, the least recently used answers in memory move to
            # files (answering them stays cheap); over the disk budget, the oldest go.
            for old_key in [k for k, a in self._entries.items() if a.data is not None]:
                if self._memory <= self.max_memory:
                    break
                old = self._entries[old_key]
                self._account(old, -1)
                self._entries[old_key] = self._to_file(old)
                self._account(self._entries[old_key], +1)
            for old_key in [k for k, a in self._entries.items() if a.data is None]:
                if self._files <= self.max_files:
                    break
                old = self._entries.pop(old_key)
                self._account(old, -1)
                old.discard()
        return answer

    def _to_file(self, answer: Answer) -> Answer:
        descriptor, path = tempfile.mkstemp(dir=self._folder.name, suffix=".json")  # locked
        with os.fdopen(descriptor, "wb") as file:
            file.write(answer.data)
        return Answer(None, path, answer.size)

    def _account(self, answer: Answer, sign: int) -> None:
        if answer.data is not None:
            self._memory += sign * answer.size
        else:
            self._files += sign * answer.size

    @staticmethod
    def _uncached(answer: Answer) -> Answer:
        """An answer kept by nobody: its file goes once it is read (the caller opens it
        before the next request could evict anything, and an open file outlives unlink)."""
        if answer.path is None:
            return answer
        data = answer.read()
        answer.discard()
        return Answer(data, None, len(data))

    def clear(self) -> None:
        with self._lock:
            for answer in self._entries.values():
                answer.discard()
            self._entries.clear()
            self._memory = self._files = 0


answers = AnswerCache()
