"""Fixtures: an app on a fresh database per test, its clients, and real waitress servers.

Set ``TIMEKIT_TEST_DATABASE_URL`` to run the suite against another database (PostgreSQL);
by default every test gets its own SQLite file.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from timekit_api import create_app
from timekit_api.database import db
from timekit_api.database.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parent.parent
FAST_HASH = "pbkdf2:sha256:1000"  # real hashing, cheap enough for hundreds of users
TEST_DATABASE_URL = os.environ.get("TIMEKIT_TEST_DATABASE_URL")


def base_config(tmp_path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "AUTO_CREATE_SCHEMA": True,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "LOGIN_FAILURE_DELAY_SECONDS": 0.0,
    }


def serving_app(config):
    """An app as a serving process builds it: ``create_app``, then the migrations (which
    ``create_app`` never runs by itself)."""
    app = create_app(config)
    if app.config["AUTO_CREATE_SCHEMA"]:
        upgrade_to_head(app)
    return app


def drop_schema(app) -> None:
    """Leave a shared (PostgreSQL) test database as we found it: no tables, no migration stamp."""
    with app.app_context():
        db.session.remove()
        if TEST_DATABASE_URL:
            db.drop_all()
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


@pytest.fixture
def app(tmp_path):
    app = serving_app(base_config(tmp_path))
    yield app
    drop_schema(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Api:
    """Small helpers over the test client for signing up and signing in."""

    def __init__(self, client):
        self.client = client

    def signup(self, username: str, password: str = "secret-pw", **extra) -> dict:
        body = {"username": username, "password": password,
                "email": f"{username}@example.com", **extra}
        response = self.client.post("/v2/user", json=body)
        assert response.status_code == 200, response.json
        return response.json

    def login(self, username: str, password: str = "secret-pw") -> str:
        response = self.client.get("/v2/user/login",
                                   query_string={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return response.json

    def user(self, username: str) -> dict:
        """Sign up and sign in; returns headers carrying the token."""
        self.signup(username)
        return bearer(self.login(username))

    def add_pet(self, headers, **fields) -> dict:
        body = {"name": "doggie", "photoUrls": ["u"], "status": "available", **fields}
        response = self.client.post("/v2/pet", json=body, headers=headers)
        assert response.status_code == 200, response.json
        return response.json


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(login: str, token: str) -> dict:
    raw = base64.b64encode(f"{login}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def api(client):
    return Api(client)


@pytest.fixture
def alice(api):
    return api.user("alice")


@pytest.fixture
def bob(api):
    return api.user("bob")


# --- real servers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A server process whose output goes to a file: a pipe nobody reads would fill up
    with access-log lines and stall the server mid-test."""

    def __init__(self, process: subprocess.Popen, output, port: int, prefix: str = "/v2"):
        self.process, self.output, self.port = process, output, port
        self.url = f"http://127.0.0.1:{port}{prefix}"

    def read_output(self) -> str:
        self.output.seek(0)
        return self.output.read()

    def wait_ready(self, timeout: float = 30.0) -> "LiveServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.read_output()}")
            try:
                requests.get(self.url + "/store/inventory", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> str:
        """Stop the server (again is fine); returns everything it printed."""
        if self.output.closed:
            return self.printed
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.printed = self.read_output()
        self.output.close()
        return self.printed


def start_server(command: list[str], database_url: str, port: int, prefix: str = "/v2",
                 **env) -> LiveServer:
    environment = {**os.environ, "TIMEKIT_DATABASE_URL": database_url,
                   "TIMEKIT_PASSWORD_HASH_METHOD": FAST_HASH, **env}
    output = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output,
                               stderr=subprocess.STDOUT, text=True)
    return LiveServer(process, output, port, prefix).wait_ready()


def waitress_serve_command(port: int, threads: int = 4) -> list[str]:
    """Plain ``waitress-serve wsgi:app``, as Flask's deployment docs run it."""
    return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}",
            f"--threads={threads}", "wsgi:app"]


def cli_serve_command(port: int, threads: int = 4) -> list[str]:
    """The README's ``timekit-api serve``."""
    return [sys.executable, "-c", "from timekit_api.cli import main; main()", "serve",
            "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)]


@pytest.fixture
def server_database(tmp_path):
    """A database for servers started by a test, with its schema."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = serving_app({**base_config(tmp_path), "DATABASE_URL": url})
    yield url
    drop_schema(app)


@contextlib.contextmanager
def waitress_on_sqlite(folder: Path):
    """A plain ``waitress-serve wsgi:app`` on its own SQLite file in ``folder``, e.g. for
    a module-scoped fixture (starting one per test costs a second each)."""
    port = free_port()
    live = start_server(waitress_serve_command(port), f"sqlite:///{folder / 'live.sqlite3'}",
                        port)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def live_server(server_database):
    port = free_port()
    server = start_server(waitress_serve_command(port), server_database, port)
    yield server
    server.stop()


def tiny_png(padding: int = 0) -> bytes:
    """A valid 1x1 PNG, optionally grown by a text chunk of ``padding`` bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    text = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + text + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def pytest_sessionstart(session):
    # CI installs Graphviz so the drawing path is tested; there a missing `dot` is an error,
    # not a reason to skip.
    if os.environ.get("TIMEKIT_REQUIRE_GRAPHVIZ") and shutil.which("dot") is None:
        raise pytest.UsageError("TIMEKIT_REQUIRE_GRAPHVIZ is set but Graphviz `dot` is missing")
