"""Bringing a database to the current schema: the Alembic migrations in ``migrations/``.

``timekit-api db upgrade`` does it from the command line; with ``AUTO_CREATE_SCHEMA`` (on by
default for SQLite) the service does it by itself on start, so the SQLite quick start needs
no extra step. A database created by ``create_all`` before migrations existed (tables, no
``alembic_version``) is adopted first: stamped as the head when it has every table of the
models, else as the initial revision (the schema before bookings), then upgraded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from flask import Flask

from .extensions import db, migrate

INITIAL_REVISION = "0001"


def alembic_config(app: Flask, *, configure_logging: bool = False):
    config = migrate.get_config()
    config.attributes["configure_logging"] = configure_logging
    return config


def upgrade_to_head(app: Flask) -> None:
    """Run every migration the database lacks (a no-op when it is current)."""
    with app.app_context():
        config = alembic_config(app)
        tables = set(sa.inspect(db.engine).get_table_names())
        if "alembic_version" not in tables and "pets" in tables:
            adopted = "head" if set(db.metadata.tables) <= tables else INITIAL_REVISION
            command.stamp(config, adopted)
        command.upgrade(config, "head")
