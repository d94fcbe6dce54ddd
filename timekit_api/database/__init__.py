"""Layer 1, the database: the ``db`` object, the column types every model shares, the models
(``models.py``), id allocation (``ids.py``) and the migrations (``migrate.py``, ``migrations/``).

Nothing here knows about HTTP or about the rules of the domain; it stores what it is given.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from .ids import listen as assign_free_ids_on_postgresql


class Base(DeclarativeBase):
    # Named constraints, so that migrations can alter them later (SQLite included).
    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base)

# SQLite only auto-assigns ids to "INTEGER PRIMARY KEY"; elsewhere ids are 64-bit.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, stored as naive UTC everywhere."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.UTC)


def run_in_transaction(work):
    """Run ``work()`` as one request's whole transaction: commit its changes, or roll them
    all back and re-raise on any error (so nothing is ever half-written)."""
    try:
        result = work()
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return result


SQLITE_CACHE_KIB = 256  # SQLite's default is 2,000 KiB per connection


def lock_row(model, ident) -> bool:
    """Take the write lock on one row first, before reading it for a write: a row lock until
    commit on PostgreSQL, the database's write lock on SQLite (pysqlite begins the
    transaction at this first write). False when there is no such row (any more): a write
    racing a delete then answers 404, and of two deletes only one finds the row.

    The update changes nothing (the key is set to itself), so no mapper event fires and no
    foreign key is checked.
    """
    table = model.__table__
    key = table.primary_key.columns[0]
    result = db.session.execute(sa.update(table).where(key == ident).values({key.name: key}))
    return result.rowcount == 1


def sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL lets readers run beside one writer; synchronous=NORMAL is safe with WAL and
    much faster; SQLite leaves foreign keys off unless asked. A small page cache per
    connection (SQLITE_CACHE_KIB): reads of a whole list pass through it without staying,
    and the operating system caches the file anyway (benchmarks/PROFILE.md, memory)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_HOLDS_TURN = "timekit_writer_turn"


class TurnLock:
    """A lock handed to its waiters in the order they came (``threading.Lock`` is not: the
    thread that releases it may take it straight back, and a waiter lose again and again)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Event] = collections.deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiters.remove(turn)
            return False

    @property
    def free(self) -> bool:
        with self._mutex:
            return not self._held and not self._waiters

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # the next one holds it now
            else:
                self._held = False


class WriterQueue:
    """On SQLite, this process's writers take turns, in order.

    SQLite has one writer at a time. A transaction that wants to write while another holds
    the write lock sleeps in SQLite's busy handler, whose naps grow to 100 ms, and each time
    it wakes the lock may already belong to a newer writer: with 4 threads creating bookings
    1% of them waited 1-2 s (benchmarks/PROFILE.md, "writers' turns"). Here a transaction's
    first write waits for its turn (``TurnLock``), given back when its connection returns to
    the pool, after the commit or rollback (SQLAlchemy's ``commit`` event fires before the
    database's). Throughput is unchanged (SQLite serialises writers anyway); other processes
    on the file still meet the busy handler. A wait past the busy timeout goes ahead without
    a turn (SQLite then decides, as before), so the queue never hangs a request.
    """

    def __init__(self, timeout: float) -> None:
        self.turns = TurnLock()
        self.timeout = timeout

    def install(self, engine) -> None:
        sa.event.listen(engine, "before_cursor_execute", self.before_write)
        sa.event.listen(engine.pool, "checkin", self.on_checkin)
        sa.event.listen(engine.pool, "reset", self.on_reset)
        sa.event.listen(engine.pool, "close", self.on_checkin)
        sa.event.listen(engine.pool, "invalidate", self.on_invalidate)

    def before_write(self, conn, cursor, statement, parameters, context, executemany):
        info = conn.connection.info  # the pooled DBAPI connection's, kept across checkouts
        if info.get(_HOLDS_TURN) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        if self.turns.acquire(self.timeout):
            info[_HOLDS_TURN] = True

    def on_checkin(self, dbapi_connection, connection_record) -> None:
        self._release(connection_record)

    def on_reset(self, dbapi_connection, connection_record, reset_state) -> None:
        self._release(connection_record)

    def on_invalidate(self, dbapi_connection, connection_record, exception) -> None:
        self._release(connection_record)

    def _release(self, connection_record) -> None:
        if connection_record is not None and connection_record.info.pop(_HOLDS_TURN, False):
            self.turns.release()


def init_app(app) -> None:
    """Bind ``db`` to ``app``: engine options, SQLite pragmas and writer queue, free ids on
    PostgreSQL."""
    db.init_app(app)
    assign_free_ids_on_postgresql(db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", sqlite_pragmas)
            queue = WriterQueue(app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
            queue.install(db.engine)
            app.extensions["timekit_api.writer_queue"] = queue
