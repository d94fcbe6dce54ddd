"""Migrations: `timekit-api db upgrade` builds exactly the models' schema and keeps data.

Runs on SQLite and, with TIMEKIT_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from helpers import base_config, drop_schema, serving_app
from timekit_api.database import db
from timekit_api.database.migrate import INITIAL_REVISION, alembic_config


@pytest.fixture
def bare_app(tmp_path):
    """An app whose database has no schema yet (nothing created on start)."""
    app = serving_app({**base_config(tmp_path), "AUTO_CREATE_SCHEMA": False})
    yield app
    drop_schema(app)


def schema_differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def head_revision(app) -> str:
    with app.app_context():
        return ScriptDirectory.from_config(alembic_config(app)).get_current_head()


def current_revision(app) -> str | None:
    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def db_command(app, *args):
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, result.output
    return result


def test_bare_app_really_has_no_schema(bare_app):
    with bare_app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
    assert schema_differences(bare_app)  # the comparison sees a missing schema


def test_db_upgrade_builds_exactly_the_models_schema(bare_app):
    db_command(bare_app, "upgrade")
    assert current_revision(bare_app) == head_revision(bare_app)
    assert schema_differences(bare_app) == []


def test_auto_create_schema_runs_the_migrations(app):
    assert current_revision(app) == head_revision(app)
    assert schema_differences(app) == []


def test_downgrade_to_nothing_and_back(bare_app):
    db_command(bare_app, "upgrade")
    db_command(bare_app, "downgrade", "base")
    with bare_app.app_context():
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
    db_command(bare_app, "upgrade")
    assert schema_differences(bare_app) == []


def test_upgrade_from_the_first_migration_keeps_rows(bare_app):
    db_command(bare_app, "upgrade", INITIAL_REVISION)
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO users (id, username, email, timezone, password_hash, created_at) "
            "VALUES (7, 'keeper', 'keeper@example.com', 'UTC', 'x', '2024-01-01 00:00:00')"))
        connection.execute(sa.text(
            "INSERT INTO pets (id, name, status, photo_urls, owner_id, document, booking_version) "
            "VALUES (42, 'Rex', 'available', :urls, 7, :document, 0)"),
            {"urls": '["u"]', "document": '{"id":42,"name":"Rex"}'})
    db_command(bare_app, "upgrade")
    assert current_revision(bare_app) == head_revision(bare_app)
    client = bare_app.test_client()
    assert client.get("/v2/pet/42").json == {"id": 42, "name": "Rex"}
    assert client.get("/v2/store/inventory").json["available"] == 1
    with bare_app.app_context():
        assert db.session.scalar(sa.text("SELECT username FROM users WHERE id = 7")) == "keeper"


@pytest.mark.parametrize("tables", ["initial", None], ids=["before-bookings", "all"])
def test_database_made_before_migrations_is_adopted_with_its_rows(tmp_path, bare_app, tables):
    """A quick-start SQLite file made by create_all (tables, no alembic_version) upgrades."""
    with bare_app.app_context():
        if tables is None:
            db.metadata.create_all(db.engine)
        else:
            # The initial tables as they were then (later migrations alter some of them):
            # the first migration's schema, without its stamp.
            command.upgrade(alembic_config(bare_app), INITIAL_REVISION)
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE alembic_version"))
        db.session.execute(sa.text("INSERT INTO tags (id, name) VALUES (3, 'old-tag')"))
        db.session.commit()
        db.engine.dispose()
    app = serving_app(base_config(tmp_path))  # AUTO_CREATE_SCHEMA on
    assert current_revision(app) == head_revision(app)
    assert schema_differences(app) == []
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT name FROM tags WHERE id = 3")) == "old-tag"
        db.session.remove()
        db.engine.dispose()
