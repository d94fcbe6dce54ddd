"""Server-assigned ids that never collide with client-chosen ones, never come back after a
delete, and stay at or below 2^53 - 1 (the largest integer a JavaScript client reads exactly).

Pets, orders and users accept a client-chosen ``id`` (``POST /pet`` with ``"id": 4242``).
SQLite would hand out ``max(id) + 1``: one client's ``"id": 2**62`` would push every later
server id past 2^53 - 1, and deleting the newest image would give its URL to the next one.
So on SQLite these tables count in ``id_counters`` (one row per table, skipping ids that
clients took), the same way a sequence does. A PostgreSQL sequence knows nothing of explicit ids:
once it reaches 4242 the next insert without an id would fail. Moving the sequence past
every explicit id (``setval``) is not enough either: it can move backwards under
concurrent writers, and one ``"id": 9223372036854775807`` would exhaust it for good.

So on PostgreSQL every new row without an id takes the next sequence value that no row
has, in one statement::

    SELECT n FROM (SELECT nextval(seq) AS n) s WHERE NOT EXISTS (SELECT 1 FROM t WHERE id = n)

retried while the value is taken. Each explicit id costs at most one skipped value, ever.
The one window left (an explicit id still uncommitted when the sequence reaches it) ends
in an ``IntegrityError``, which is answered 409 like any other conflict (``errors.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

# Tables whose integer primary key clients may choose (the others never get explicit ids).
CLIENT_CHOSEN_ID_TABLES = ("users", "pets", "orders")
# Tables whose server-assigned ids come from ``id_counters`` on SQLite (images: URLs carry
# their ids, and must never name other bytes later).
COUNTED_ID_TABLES = (*CLIENT_CHOSEN_ID_TABLES, "pet_images")
MAX_SERVER_ID = 2**53 - 1
# Where a table's counter starts, the first time it is needed (a database made before
# counters, or rows inserted with explicit ids): after its largest id up to here. Larger
# ones were chosen by clients (server ids used to be max + 1 and stay small); the counter
# skips any of them it meets.
COUNTER_START_CEILING = 2**32
MAX_ATTEMPTS = 10_000


class IdsExhausted(RuntimeError):
    """No server id at or below 2^53 - 1 is left."""


def next_counted_id(connection: sa.Connection, table: sa.Table) -> int:
    """SQLite: the next id of ``table`` that no row has, from its ``id_counters`` row (which
    starts after the largest id up to ``COUNTER_START_CEILING``, the first time it is
    needed)."""
    column = table.primary_key.columns.values()[0]
    advance = sa.text("UPDATE id_counters SET last_id = last_id + 1 WHERE table_name = :t "
                      "RETURNING last_id")
    start = sa.text(f"INSERT OR IGNORE INTO id_counters (table_name, last_id) "  # noqa: S608
                    f"SELECT :t, coalesce(max({column.name}), 0) FROM {table.name} "
                    f"WHERE {column.name} <= {COUNTER_START_CEILING}")
    taken = sa.select(column).where(column == sa.bindparam("n"))
    for _ in range(MAX_ATTEMPTS):
        found = connection.execute(advance, {"t": table.name}).scalar()
        if found is None:
            connection.execute(start, {"t": table.name})
            continue
        if found > MAX_SERVER_ID:
            raise IdsExhausted(f"no id left at or below {MAX_SERVER_ID} in {table.name}")
        if connection.execute(taken, {"n": found}).first() is None:
            return found
    raise RuntimeError(f"no free id found in {table.name} after {MAX_ATTEMPTS} attempts")


def free_id(connection: sa.Connection, table: sa.Table) -> int:
    column = table.primary_key.columns.values()[0]
    sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
    candidate = sa.select(sa.func.nextval(sequence).label("n")).subquery()
    query = sa.select(candidate.c.n).where(
        ~sa.exists().where(column == candidate.c.n))
    for _ in range(MAX_ATTEMPTS):
        found = connection.execute(query).scalar()
        if found is not None and found > MAX_SERVER_ID:
            raise IdsExhausted(f"no id left at or below {MAX_SERVER_ID} in {table.name}")
        if found is not None:
            return found
    raise RuntimeError(f"no free id found in {table.name} after {MAX_ATTEMPTS} attempts")


def listen(db) -> None:
    """Give new rows of ``db``'s own tables (not a host site's) a server id before each
    flush: a free sequence value on PostgreSQL, a counted one on SQLite; once per session
    class."""
    metadata = db.metadata

    def assign_free_ids(session: Session, flush_context, instances) -> None:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            tables, allocate = CLIENT_CHOSEN_ID_TABLES, free_id
        elif dialect == "sqlite":
            tables, allocate = COUNTED_ID_TABLES, next_counted_id
        else:
            return
        for obj in session.new:
            table = sa.inspect(obj).mapper.local_table
            if table.name not in tables or metadata.tables.get(table.name) is not table:
                continue
            key = table.primary_key.columns.values()[0].key
            if getattr(obj, key, None) is None:
                setattr(obj, key, allocate(session.connection(), table))

    # The session class that our sessionmaker made for ``db`` alone.
    session_class = db.session.session_factory.class_
    if not getattr(session_class, "_timekit_free_ids", False):
        event.listen(session_class, "before_flush", assign_free_ids)
        session_class._timekit_free_ids = True
