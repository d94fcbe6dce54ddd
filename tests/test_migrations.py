"""Migrations: `timekit-api db upgrade` builds exactly the models' schema and keeps data.

Runs on SQLite and, with TIMEKIT_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from helpers import base_config, clean_database, serving_app
from timekit_api.database import db
from timekit_api.database.migrate import INITIAL_REVISION, alembic_config, head_revisions


@pytest.fixture
def bare_app(tmp_path):
    """An app whose database has no schema yet (nothing created on start)."""
    app = serving_app({**base_config(tmp_path), "AUTO_CREATE_SCHEMA": False})
    yield app
    clean_database(app)


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
    assert client.get("/v2/pet/42").json == {"id": 42, "name": "Rex", "photoUrls": ["u"],
                                             "tags": [], "status": "available"}
    assert client.get("/v2/store/inventory").json["available"] == 1
    with bare_app.app_context():
        assert db.session.scalar(sa.text("SELECT username FROM users WHERE id = 7")) == "keeper"


@pytest.mark.parametrize("made_by", ["first-release", "create_all"])
def test_database_made_before_migrations_is_adopted_with_its_rows(tmp_path, bare_app, made_by):
    """A quick-start SQLite file made by create_all (tables, no alembic_version) upgrades:
    one of the first release (the initial schema) and one of today's models."""
    with bare_app.app_context():
        if made_by == "create_all":
            db.metadata.create_all(db.engine)
        else:
            db_command(bare_app, "upgrade", INITIAL_REVISION)
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE alembic_version"))
        db.session.execute(sa.text(
            "INSERT INTO users (id, username, email, timezone, password_hash, created_at) "
            "VALUES (3, 'old-user', 'old@example.com', 'UTC', 'x', '2024-01-01 00:00:00')"))
        db.session.commit()
        db.engine.dispose()
    app = serving_app(base_config(tmp_path))  # AUTO_CREATE_SCHEMA on
    assert current_revision(app) == head_revision(app)
    assert schema_differences(app) == []
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT username FROM users WHERE id = 3")) == "old-user"
        db.session.remove()
        db.engine.dispose()


OLD_PETS = [  # id, category (id, name) or None, tags [(id, name)] in order, status
    (1, (1, "Dogs"), [(2, "b"), (1, "a")], "available"),
    (2, (1, "Dogs"), [(1, "a")], "sold"),
    (3, (2, None), [], None),
    (4, None, [(3, "c"), (2, "b")], "pending"),
]


def test_upgrade_from_0003_keeps_every_pet_as_it_read(bare_app):
    """A database at 0003 (shared category and tag rows, stored documents) upgrades to
    values in each pet: every pet, list and inventory reads back as before."""
    db_command(bare_app, "upgrade", "0003")
    before = {}
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO categories (id, name) VALUES (1, 'Dogs'), (2, NULL)"))
        connection.execute(sa.text(
            "INSERT INTO tags (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
        for pet_id, category, tags, status in OLD_PETS:
            document = {"id": pet_id, "name": f"pet {pet_id}", "photoUrls": [f"u{pet_id}"],
                        "tags": [{"id": i, "name": n} for i, n in tags]}
            if category:
                document["category"] = {k: v for k, v in zip(("id", "name"), category,
                                                             strict=True) if v is not None}
            if status:
                document["status"] = status
            before[pet_id] = document
            connection.execute(sa.text(
                "INSERT INTO pets (id, name, status, category_id, photo_urls, document, "
                "booking_version) VALUES (:id, :name, :status, :category, :urls, :doc, 0)"),
                {"id": pet_id, "name": document["name"], "status": status,
                 "category": category and category[0], "urls": json.dumps(document["photoUrls"]),
                 "doc": json.dumps(document)})
            for position, (tag_id, _) in enumerate(tags):
                connection.execute(sa.text(
                    "INSERT INTO pet_tags (pet_id, tag_id, position) VALUES (:p, :t, :i)"),
                    {"p": pet_id, "t": tag_id, "i": position})
    db_command(bare_app, "upgrade")
    assert schema_differences(bare_app) == []
    client = bare_app.test_client()
    for pet_id, document in before.items():
        assert client.get(f"/v2/pet/{pet_id}").json == document
    assert client.get("/v2/pet/findByStatus?status=available,pending,sold").json == [
        before[1], before[2], before[4]]
    # the index findByTags reads was filled by the migration
    assert client.get("/v2/pet/findByTags?tags=a,c").json == [before[1], before[2], before[4]]
    assert client.get("/v2/pet/findByTags?tags=b").json == [before[1], before[4]]
    assert client.get("/v2/store/inventory").json == {"available": 1, "pending": 1, "sold": 1}
    # and the triggers work from here on
    with bare_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE pets SET status = 'sold', tags = '[]' WHERE id = 4"))
    assert client.get("/v2/store/inventory").json == {"available": 1, "pending": 0, "sold": 2}
    assert client.get("/v2/pet/findByTags?tags=b").json == [before[1]]


def test_the_heads_read_from_the_scripts_are_alembics(bare_app):
    with bare_app.app_context():
        alembic_heads = ScriptDirectory.from_config(alembic_config(bare_app)).get_heads()
    assert head_revisions() == frozenset(alembic_heads) == {head_revision(bare_app)}


SERVE_ONCE = """
import sys
from timekit_api import create_app
from timekit_api.database.migrate import upgrade_to_head
app = create_app({"DATABASE_URL": sys.argv[1], "AUTO_CREATE_SCHEMA": True})
upgrade_to_head(app)
answer = app.test_client().get("/v2/pet/findByStatus?status=available")
assert answer.status_code == 200, answer.text
print(" ".join(sorted(name for name in sys.argv[2:] if name in sys.modules)))
"""
UNUSED_BY_SERVING = ("alembic", "flask_migrate", "requests", "urllib3", "icalendar")


def test_serving_a_current_database_loads_neither_migrations_nor_delivery_clients(bare_app):
    """Alembic (11 MiB), requests (6) and icalendar (4) stay out of a serving process's
    memory until a migration, a delivery or a calendar needs them."""
    db_command(bare_app, "upgrade")
    url = bare_app.config["DATABASE_URL"]
    loaded = subprocess.run([sys.executable, "-c", SERVE_ONCE, url, *UNUSED_BY_SERVING],
                            capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.split() == []
    # The control: a database one revision behind does load Alembic, to migrate it.
    db_command(bare_app, "downgrade", "--", "-1")
    loaded = subprocess.run([sys.executable, "-c", SERVE_ONCE, url, *UNUSED_BY_SERVING],
                            capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.split() == ["alembic", "flask_migrate"]
