"""Bringing a database to the current schema: the Alembic migrations in ``migrations/``.

``timekit-api db upgrade`` does it from the command line. The processes that serve
(``wsgi.py``, ``timekit-api serve``) call :func:`upgrade_to_head` when ``AUTO_CREATE_SCHEMA``
is on (the default for SQLite), so the SQLite quick start needs no extra step; building an
app (``create_app``) never touches the database. A database created by ``create_all``
before migrations existed (tables, no ``alembic_version``) is adopted first: stamped as the
head when it has every table of the models, else as the initial revision, then upgraded.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import Migrate

from . import (
    db,
    models,  # noqa: F401  (the tables the migrations and the adoption compare with)
)

INITIAL_REVISION = "0001"
MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent / "migrations")
migrate = Migrate(directory=MIGRATIONS_DIRECTORY, compare_type=True, render_as_batch=True)


def alembic_config(app: Flask, *, configure_logging: bool = False):
    config = migrate.get_config()
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
        config = alembic_config(app)
        tables = set(sa.inspect(db.engine).get_table_names())
        if "alembic_version" not in tables and "pets" in tables:
            adopted = "head" if set(db.metadata.tables) <= tables else INITIAL_REVISION
            command.stamp(config, adopted)
        command.upgrade(config, "head")


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions the code's schema is at (read once from the migration scripts)."""
    return frozenset(ScriptDirectory(MIGRATIONS_DIRECTORY).get_heads())


def stored_revisions(connection) -> frozenset[str]:
    """The revisions the database says its schema is at (empty when never migrated)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                     .scalars())
