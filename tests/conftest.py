"""Fixtures: an app on a fresh database per test, its clients, and real waitress servers.

Set ``TIMEKIT_TEST_DATABASE_URL`` to run the suite against another database (PostgreSQL);
by default every test gets its own SQLite file. The helpers these fixtures are built from
live in ``helpers.py``; test modules import them from there, never from this file.
"""

from __future__ import annotations

import os
import shutil

import pytest

from helpers import (
    TEST_DATABASE_URL,
    Api,
    base_config,
    clean_database,
    drop_schema,
    free_port,
    serving_app,
    start_server,
    waitress_serve_command,
)
from timekit_api import create_app


@pytest.fixture
def app(tmp_path):
    app = serving_app(base_config(tmp_path))
    yield app
    clean_database(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api(client):
    return Api(client)


@pytest.fixture
def alice(api):
    return api.user("alice")


@pytest.fixture
def bob(api):
    return api.user("bob")


@pytest.fixture
def server_database(tmp_path):
    """A database for servers started by a test, with its schema."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = serving_app({**base_config(tmp_path), "DATABASE_URL": url})
    yield url
    clean_database(app)


@pytest.fixture
def live_server(server_database):
    """A plain ``waitress-serve wsgi:app`` on ``server_database``."""
    port = free_port()
    server = start_server(waitress_serve_command(port), server_database, port)
    yield server
    server.stop()


def pytest_sessionstart(session):
    # CI installs Graphviz so the drawing path is tested; there a missing `dot` is an error,
    # not a reason to skip.
    if os.environ.get("TIMEKIT_REQUIRE_GRAPHVIZ") and shutil.which("dot") is None:
        raise pytest.UsageError("TIMEKIT_REQUIRE_GRAPHVIZ is set but Graphviz `dot` is missing")
    if TEST_DATABASE_URL:
        # Tests empty the shared database instead of dropping it (helpers.serving_app): start
        # from no schema, whatever an interrupted earlier run left there.
        drop_schema(create_app({"DATABASE_URL": TEST_DATABASE_URL}))
