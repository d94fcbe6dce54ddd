"""Bringing a database to the current schema: the Alembic migrations in ``migrations/``.

``timekit-api db upgrade`` does it from the command line. The processes that serve
(``wsgi.py``, ``timekit-api serve``) call :func:`upgrade_to_head` when ``AUTO_CREATE_SCHEMA``
is on (the default for SQLite), so the SQLite quick start needs no extra step; building an
app (``create_app``) never touches the database. A database created by ``create_all``
before migrations existed (tables, no ``alembic_version``) is adopted first: stamped as the
head when it has every table of the models, else as the initial revision, then upgraded.

Alembic and Flask-Migrate (11 MiB of a serving process's memory) are imported only when a
migration runs or a ``db`` command is used: whether the schema is current is read from the
migration scripts' own ``revision``/``down_revision`` lines (:func:`head_revisions`) and
the ``alembic_version`` table, which is all a process serving a current database needs.
"""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from . import (
    db,
    models,  # noqa: F401  (the tables the migrations and the adoption compare with)
)

INITIAL_REVISION = "0001"
MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent / "migrations")


@functools.cache
def _migrate():
    from flask_migrate import Migrate
    return Migrate(directory=MIGRATIONS_DIRECTORY, compare_type=True, render_as_batch=True)


def init_migrations(app: Flask) -> None:
    """Give ``app`` Flask-Migrate's extension (what ``env.py`` and the ``db`` commands
    read), once; this is where Alembic gets imported."""
    if "migrate" not in app.extensions:
        _migrate().init_app(app, db)


def alembic_config(app: Flask, *, configure_logging: bool = False):
    init_migrations(app)
    config = _migrate().get_config()
    config.attributes["configure_logging"] = configure_logging
    return config


def ensure_sqlite_folder(app: Flask) -> None:
    """SQLite creates its file on first connect, but not the folder it lives in."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)


def upgrade_to_head(app: Flask) -> None:
    """Run every migration the database lacks (a no-op when it is current)."""
    ensure_sqlite_folder(app)
    with app.app_context():
        with db.engine.connect() as connection:
            if stored_revisions(connection) == head_revisions():
                return
        from alembic import command

        config = alembic_config(app)
        tables = set(sa.inspect(db.engine).get_table_names())
        if "alembic_version" not in tables and "pets" in tables:
            adopted = "head" if set(db.metadata.tables) <= tables else INITIAL_REVISION
            command.stamp(config, adopted)
        command.upgrade(config, "head")


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions the code's schema is at: those no other migration script revises
    (read once, from each script's module-level ``revision`` and ``down_revision``; the
    tests check the answer against Alembic's own)."""
    revisions, revised = set(), set()
    for script in Path(MIGRATIONS_DIRECTORY, "versions").glob("*.py"):
        assigned = {target.id: node.value
                    for node in ast.parse(script.read_text(encoding="utf-8")).body
                    if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name)}
        if "revision" not in assigned:
            continue
        revisions.add(ast.literal_eval(assigned["revision"]))
        down = ast.literal_eval(assigned.get("down_revision", ast.Constant(None)))
        revised.update((down,) if isinstance(down, str) else down or ())
    return frozenset(revisions - revised)


def stored_revisions(connection) -> frozenset[str]:
    """The revisions the database says its schema is at (empty when never migrated)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                     .scalars())
