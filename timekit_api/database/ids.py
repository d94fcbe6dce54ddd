"""Server-assigned ids that never collide with client-chosen ones.

Pets, orders, users, categories and tags accept a client-chosen ``id`` (``POST /pet`` with
``"id": 4242``). SQLite hands out ``max(id) + 1`` (or, past the largest 64-bit id, a free
random one), so it never collides. A PostgreSQL sequence knows nothing of explicit ids:
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
CLIENT_CHOSEN_ID_TABLES = ("users", "categories", "tags", "pets", "orders")
MAX_ATTEMPTS = 10_000


def free_id(connection: sa.Connection, table: sa.Table) -> int:
    column = table.primary_key.columns.values()[0]
    sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
    candidate = sa.select(sa.func.nextval(sequence).label("n")).subquery()
    query = sa.select(candidate.c.n).where(
        ~sa.exists().where(column == candidate.c.n))
    for _ in range(MAX_ATTEMPTS):
        found = connection.execute(query).scalar()
        if found is not None:
            return found
    raise RuntimeError(f"no free id found in {table.name} after {MAX_ATTEMPTS} attempts")


def listen(db) -> None:
    """Give new rows of ``db``'s own tables (not a host site's) a free id before each flush,
    on PostgreSQL; once per session class."""
    metadata = db.metadata

    def assign_free_ids(session: Session, flush_context, instances) -> None:
        if session.get_bind().dialect.name != "postgresql":
            return
        for obj in session.new:
            table = sa.inspect(obj).mapper.local_table
            if (table.name not in CLIENT_CHOSEN_ID_TABLES
                    or metadata.tables.get(table.name) is not table):
                continue
            key = table.primary_key.columns.values()[0].key
            if getattr(obj, key, None) is None:
                setattr(obj, key, free_id(session.connection(), table))

    # The session class that our sessionmaker made for ``db`` alone.
    session_class = db.session.session_factory.class_
    if not getattr(session_class, "_timekit_free_ids", False):
        event.listen(session_class, "before_flush", assign_free_ids)
        session_class._timekit_free_ids = True
