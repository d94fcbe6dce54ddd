"""Shared test helpers: configuration, signing up and in, credentials, a PNG, real servers.

Test modules import from here (``from helpers import ...``): ``tests/`` is on ``sys.path``
through ``pythonpath = tests`` in setup.cfg's ``[tool:pytest]``. ``conftest.py`` keeps only
fixtures and hooks, built from these helpers.

The benchmarks (``benchmarks/run.py``) start their waitress servers with ``LiveServer``
from here too, by putting ``tests/`` on ``sys.path``. That direction is the cleaner one:
this module is test infrastructure used by two dozen test modules, and the benchmark
scripts already extend ``sys.path`` by hand; the reverse would make the test suite depend
on a directory of scripts with names such as ``run`` and ``profile``. Nothing here imports
pytest, so the benchmarks need no more than the ``test`` extras they are documented with.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
import zlib
from pathlib import Path

import requests
import sqlalchemy as sa

from timekit_api import create_app
from timekit_api.database import db
from timekit_api.database.migrate import head_revisions, stored_revisions, upgrade_to_head
from timekit_api.domain.booking import GRAPHS

ROOT = Path(__file__).resolve().parent.parent
FAST_HASH = "pbkdf2:sha256:1000"  # real hashing, cheap enough for hundreds of users
TEST_DATABASE_URL = os.environ.get("TIMEKIT_TEST_DATABASE_URL")
# Suites that serve their own SQLite file whatever the suite's database run in the SQLite
# pass only: in the PostgreSQL pass they would repeat it exactly (a minute and a half of CI).
OWN_SQLITE_FILE = "serves its own SQLite file: the SQLite pass runs it"
PASSWORD = "secret-pw"
# Resource settings under which the booking tests' bookings (2030 and later, any graph, by
# anyone) are allowed: tests of the engine's states and races, not of the owner's rules.
OPEN_SETTINGS = {"graphs": list(GRAPHS), "max_booking_horizon": "1200 months",
                 "max_booking_length": "52 weeks", "max_live_bookings_per_booker": 10000}
# The suite sends thousands of requests from 127.0.0.1: the API-wide and per-address limits
# are set out of reach, except in the tests of those limits (test_attack_rate_limits.py).
UNLIMITED = {"RATE_LIMIT_PER_HOUR": 10**9, "RATE_LIMIT_ANONYMOUS_PER_HOUR": 10**9,
             "LOGIN_FAILURES_PER_ADDRESS_PER_HOUR": 10**9}
UNLIMITED_ENVIRONMENT = {f"TIMEKIT_{name}": str(value) for name, value in UNLIMITED.items()}


# --- configuration -----------------------------------------------------------------------------

def base_config(tmp_path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "AUTO_CREATE_SCHEMA": True,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "LOGIN_FAILURE_DELAY_SECONDS": 0.0,
        **UNLIMITED,
    }


# For tests that move the testing clock: its endpoints on, and tokens that outlive the
# clock's trips to 2030 (their expiry follows the clock too).
CLOCK_SETTINGS = {"TESTING_ENDPOINTS": True, "TOKEN_TTL_SECONDS": 5 * 365 * 24 * 3600}


def executed_statements(app, call):
    """The SQL statements ``call()`` runs on ``app``'s engine, and what it returned."""
    statements = []
    with app.app_context():
        engine = db.engine

    def record(connection, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        result = call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return statements, result


def serving_app(config):
    """An app as a serving process builds it: ``create_app``, then the migrations (which
    ``create_app`` never runs by itself).

    Migrating took most of a short test's time (0.2 s on SQLite, 0.3 s on PostgreSQL, for
    each of 1,600 tests), so a new SQLite file starts as a copy of one migrated once per
    process, and the shared PostgreSQL database is emptied between tests rather than dropped
    (``clean_database``); either way the test sees what a fresh migration leaves, with a
    catalog epoch of its own. An app without ``AUTO_CREATE_SCHEMA`` on the shared database
    sees no schema at all.
    """
    app = create_app(config)
    url = app.config["DATABASE_URL"]
    if app.config["AUTO_CREATE_SCHEMA"]:
        path = _sqlite_path(url)
        if path is not None and not path.exists():
            _copy_migrated_sqlite(path)
            return app
        capture = url == TEST_DATABASE_URL and url not in _SEEDS
        if capture:
            with app.app_context():
                capture = not sa.inspect(db.engine).get_table_names()
        upgrade_to_head(app)
        if capture:
            _SEEDS[url] = _rows_of_every_table(app)
    elif url == TEST_DATABASE_URL:
        drop_schema(app)
    return app


# What a fresh migration leaves in each table (the catalog version, the service clock), per
# shared database URL: ``clean_database`` puts it back after emptying the tables.
_SEEDS: dict[str, dict[str, list[dict]]] = {}
_MIGRATED_SQLITE: list[Path] = []  # the per-process template file, once made


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url[len(prefix):]) if url.startswith(prefix) and url != prefix else None


def _copy_migrated_sqlite(path: Path) -> None:
    if not _MIGRATED_SQLITE:
        template = Path(tempfile.mkdtemp(prefix="timekit-migrated-")) / "migrated.sqlite3"
        app = create_app({"DATABASE_URL": f"sqlite:///{template}", "AUTO_CREATE_SCHEMA": True})
        upgrade_to_head(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # checkpoints the WAL into the file
        _MIGRATED_SQLITE.append(template)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_MIGRATED_SQLITE[0], path)
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE catalog_version SET epoch = ?", (uuid.uuid4().hex,))


def _rows_of_every_table(app) -> dict[str, list[dict]]:
    with app.app_context(), db.engine.connect() as connection:
        return {table.name: [dict(row) for row in connection.execute(table.select()).mappings()]
                for table in db.metadata.sorted_tables}


def _at_head(connection) -> bool:
    tables = set(sa.inspect(connection).get_table_names())
    return (set(db.metadata.tables) <= tables
            and stored_revisions(connection) == head_revisions())


def clean_database(app) -> None:
    """After a test: the shared (PostgreSQL) database as a fresh migration leaves it.

    At the head revision its tables are emptied (identities restarted) and the migration's
    rows put back, the catalog with a new epoch; in any other state (a test migrated down,
    or left no schema) everything is dropped, and the next test migrates from nothing.
    """
    emptied = False
    with app.app_context():
        db.session.remove()
        seeds = _SEEDS.get(app.config["DATABASE_URL"])
        if TEST_DATABASE_URL and seeds is not None:
            emptied = _empty_and_reseed(seeds)
        db.engine.dispose()
    if not emptied:
        drop_schema(app)


def _empty_and_reseed(seeds: dict[str, list[dict]], attempts: int = 5) -> bool:
    """TRUNCATE every table and put the migrations' rows back; False when the schema is not
    at head. A writer still running from the test (a server exiting, a thread) can deadlock
    with the TRUNCATE, and PostgreSQL then cancels one side: retry, and say who it was."""
    for attempt in range(attempts):
        try:
            with db.engine.begin() as connection:
                if not _at_head(connection):
                    return False
                names = ", ".join(f'"{name}"' for name in db.metadata.tables)
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                for table in db.metadata.sorted_tables:
                    rows = [{**row, **({"epoch": uuid.uuid4().hex} if "epoch" in row else {})}
                            for row in seeds[table.name]]
                    if rows:
                        connection.execute(table.insert(), rows)
            return True
        except sa.exc.OperationalError as error:
            if "deadlock" not in str(error) or attempt == attempts - 1:
                raise
            warnings.warn(f"clean_database: TRUNCATE deadlocked with {_other_sessions()}; "
                          f"retrying", stacklevel=2)
            time.sleep(0.2)


def _other_sessions() -> list[tuple]:
    with db.engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()


def drop_schema(app) -> None:
    """Leave a shared (PostgreSQL) test database with no tables and no migration stamp."""
    with app.app_context():
        db.session.remove()
        if TEST_DATABASE_URL:
            db.drop_all()
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


# --- credentials -------------------------------------------------------------------------------

def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def basic(login: str, token: str) -> dict:
    raw = base64.b64encode(f"{login}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


# --- signing up and in through Flask's test client ---------------------------------------------

class Api:
    """Small helpers over the test client for signing up and signing in (the API under
    ``prefix``, ``/v2`` unless it is embedded elsewhere)."""

    def __init__(self, client, prefix: str = "/v2"):
        self.client, self.prefix = client, prefix

    def signup(self, username: str, password: str = PASSWORD, **extra) -> dict:
        body = {"username": username, "password": password,
                "email": f"{username}@example.com", **extra}
        response = self.client.post(f"{self.prefix}/user", json=body)
        assert response.status_code == 200, response.json
        return response.json

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.get(f"{self.prefix}/user/login",
                                   query_string={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return response.json

    def user(self, username: str) -> dict:
        """Sign up and sign in; returns headers carrying the token."""
        self.signup(username)
        return bearer(self.login(username))

    def open_for_booking(self, headers, pet_id: int, **settings) -> dict:
        """The owner lets others book the pet with every graph, years ahead (the defaults
        allow ``confirm_decline`` only, up to 6 months ahead), plus ``settings``."""
        response = self.client.put(f"{self.prefix}/resources/{pet_id}",
                                   json={**OPEN_SETTINGS, **settings}, headers=headers)
        assert response.status_code == 200, response.json
        return response.json

    def add_pet(self, headers, **fields) -> dict:
        body = {"name": "doggie", "photoUrls": ["u"], "status": "available", **fields}
        response = self.client.post(f"{self.prefix}/pet", json=body, headers=headers)
        assert response.status_code == 200, response.json
        return response.json


class BookingParties:
    """An owner with a pet open for booking, a booker and a stranger, all signed up through
    the HTTP API (the starting point of the booking tests' worlds)."""

    def __init__(self, client, api: Api):
        self.client, self.api = client, api
        self.owner = api.user("owner")
        self.booker = api.user("booker")
        self.stranger = api.user("stranger")
        self.pet = api.add_pet(self.owner)["id"]
        api.open_for_booking(self.owner, self.pet)

    def headers(self, who: str) -> dict:
        return {"booker": self.booker, "owner": self.owner, "stranger": self.stranger}[who]


def http_open_for_booking(url: str, headers: dict, pet_id: int, **settings) -> dict:
    """``Api.open_for_booking`` against a live server."""
    response = requests.put(f"{url}/resources/{pet_id}", json={**OPEN_SETTINGS, **settings},
                            headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


# --- signing up and in over HTTP (requests against a live server) ------------------------------

def http_sign_up(url: str, username: str, password: str = PASSWORD, *, session=requests,
                 timeout: float = 30, exist_ok: bool = False) -> None:
    """``POST {url}/user``; ``url`` ends with the API prefix, e.g. ``LiveServer.url``.
    With ``exist_ok``, a user of that name already there (409) is fine too."""
    response = session.post(f"{url}/user", json={
        "username": username, "password": password, "email": f"{username}@example.com"},
        timeout=timeout)
    assert response.status_code == 200 or (exist_ok and response.status_code == 409), \
        response.text


def http_sign_in(url: str, username: str, password: str = PASSWORD, *, session=requests,
                 timeout: float = 30) -> str:
    """``GET {url}/user/login``; returns the token."""
    response = session.get(f"{url}/user/login",
                           params={"username": username, "password": password}, timeout=timeout)
    assert response.status_code == 200, response.text
    return response.json()


def http_token(url: str, username: str, password: str = PASSWORD, *, session=requests,
               timeout: float = 30, exist_ok: bool = False) -> str:
    """Sign up a new user and sign in; returns the token."""
    http_sign_up(url, username, password, session=session, timeout=timeout, exist_ok=exist_ok)
    return http_sign_in(url, username, password, session=session, timeout=timeout)


def http_session(url: str, username: str, password: str = PASSWORD, *,
                 exist_ok: bool = False) -> requests.Session:
    """A ``requests.Session`` of a new user, sending its token as Bearer."""
    session = requests.Session()
    session.headers.update(bearer(http_token(url, username, password, session=session,
                                             exist_ok=exist_ok)))
    return session


# --- images ------------------------------------------------------------------------------------

def tiny_png(padding: int = 0) -> bytes:
    """A valid 1x1 PNG, optionally grown by a text chunk of ``padding`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    text = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + text + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


PNG = tiny_png()  # the image every upload test sends (70 bytes)


# --- booking graphs ----------------------------------------------------------------------------

# (graph, from state, action) -> (to state, who may apply it: "booker", "owner" or
# "booker_or_owner"), written out independently of booking/graphs.py so that a typo or a
# change there shows up as a failure.
LEGAL_TRANSITIONS = {
    ("instant", "initialized", "confirm"): ("confirmed", "booker"),
    ("instant", "confirmed", "cancel"): ("cancelled", "booker_or_owner"),
    ("instant", "confirmed", "cancel_by_customer"): ("cancelled_by_customer", "booker_or_owner"),
    ("instant", "confirmed", "complete"): ("completed", "owner"),
    ("confirm_decline", "initialized", "create"): ("tentative", "booker"),
    ("confirm_decline", "tentative", "confirm"): ("confirmed", "owner"),
    ("confirm_decline", "tentative", "decline"): ("declined", "owner"),
    ("confirm_decline", "tentative", "cancel"): ("cancelled", "booker_or_owner"),
    ("confirm_decline", "confirmed", "cancel"): ("cancelled", "booker_or_owner"),
    ("confirm_decline", "confirmed", "cancel_by_customer"): (
        "cancelled_by_customer", "booker_or_owner"),
    ("confirm_decline", "confirmed", "complete"): ("completed", "owner"),
    ("instant_payment", "initialized", "create"): ("tentative", "booker"),
    ("instant_payment", "tentative", "pay"): ("paid", "booker_or_owner"),
    ("instant_payment", "tentative", "timeout"): ("unpaid", "system"),
    ("instant_payment", "paid", "cancel"): ("cancelled", "booker_or_owner"),
    ("instant_payment", "paid", "complete"): ("completed", "owner"),
}
# The transitions the service also applies by itself: (after, delay setting).
AUTOMATIC_TRANSITIONS = {
    ("instant", "confirmed", "complete"): ("end", "AUTO_COMPLETE_AFTER"),
    ("confirm_decline", "confirmed", "complete"): ("end", "AUTO_COMPLETE_AFTER"),
    ("instant_payment", "tentative", "timeout"): ("entered", "PAYMENT_TIMEOUT"),
    ("instant_payment", "paid", "complete"): ("end", "AUTO_COMPLETE_AFTER"),
    ("group_owner", "tentative", "complete"): ("end", "AUTO_COMPLETE_AFTER"),
    ("group_customer", "confirmed", "complete"): ("end", "AUTO_COMPLETE_AFTER"),
    ("group_customer_payment", "tentative", "timeout"): ("entered", "PAYMENT_TIMEOUT"),
    ("group_customer_payment", "paid", "complete"): ("end", "AUTO_COMPLETE_AFTER"),
}

# The graphs of groups and classes (contract section 6), written out the same way; kept apart
# from LEGAL_TRANSITIONS because classes and seats are created differently
# (tests/test_groups.py drives them).
GROUP_TRANSITIONS = {
    ("group_owner", "initialized", "create"): ("tentative", "owner"),
    ("group_owner", "tentative", "complete"): ("completed", "owner"),
    ("group_owner", "tentative", "cancel"): ("cancelled", "owner"),
    ("group_customer", "initialized", "create"): ("confirmed", "booker"),
    ("group_customer", "confirmed", "complete"): ("completed", "owner"),
    ("group_customer", "confirmed", "cancel_by_customer"): ("cancelled_by_customer", "booker"),
    ("group_customer", "confirmed", "cancel_by_owner"): ("cancelled_by_owner", "owner"),
    ("group_customer_payment", "initialized", "create"): ("tentative", "booker"),
    ("group_customer_payment", "tentative", "pay"): ("paid", "booker_or_owner"),
    ("group_customer_payment", "tentative", "timeout"): ("unpaid", "system"),
    ("group_customer_payment", "tentative", "cancel_by_owner"): ("cancelled_by_owner", "owner"),
    ("group_customer_payment", "paid", "complete"): ("completed", "owner"),
    ("group_customer_payment", "paid", "cancel_by_customer"): (
        "cancelled_by_customer", "booker"),
    ("group_customer_payment", "paid", "cancel_by_owner"): ("cancelled_by_owner", "owner"),
}


# --- real servers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A server process whose output goes to a file: a pipe nobody reads would fill up
    with access-log lines and stall the server mid-test.

    ``url`` is the API root (``http://127.0.0.1:<port><prefix>``); ``wait_ready`` polls
    ``ready_path`` below it until the server answers anything at all.
    """

    def __init__(self, process: subprocess.Popen, output, port: int, prefix: str = "/v2",
                 ready_path: str = "/store/inventory", name: str = "server"):
        self.process, self.output, self.port = process, output, port
        self.url = f"http://127.0.0.1:{port}{prefix}"
        self.ready_path, self.name = ready_path, name

    def read_output(self) -> str:
        self.output.flush()
        self.output.seek(0)
        return self.output.read()

    def wait_ready(self, timeout: float = 30.0) -> LiveServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.read_output()}")
            try:
                requests.get(self.url + self.ready_path, timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

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


def spawn(command: list[str], *, cwd: Path = ROOT, env: dict | None = None,
          output=None) -> tuple[subprocess.Popen, object]:
    """Start ``command`` without waiting for it; its output goes to ``output``, a file
    opened for reading and writing (an anonymous temporary file by default). Returns the
    process and that file, as ``LiveServer`` takes them."""
    if output is None:
        output = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    process = subprocess.Popen(command, cwd=cwd, env=os.environ if env is None else env,
                               stdout=output, stderr=subprocess.STDOUT, text=True)
    return process, output


def start_server(command: list[str], database_url: str, port: int, prefix: str = "/v2",
                 **env) -> LiveServer:
    """Start a server of the service on ``database_url`` and wait until it answers.

    The server sees only the ``TIMEKIT_*`` settings given here: a setting exported in the
    shell that runs the tests must not change what the tests see."""
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith("TIMEKIT_") or name.startswith("TIMEKIT_TEST_")}
    environment = {**inherited, "TIMEKIT_DATABASE_URL": database_url,
                   "TIMEKIT_PASSWORD_HASH_METHOD": FAST_HASH, **UNLIMITED_ENVIRONMENT,
                   # Tests start the worker where they mean to.
                   "TIMEKIT_WORKER_ENABLED": "0", **env}
    process, output = spawn(command, env=environment)
    return LiveServer(process, output, port, prefix).wait_ready()


def waitress_serve_command(port: int, threads: int = 4, app: str = "wsgi:app") -> list[str]:
    """Plain ``waitress-serve wsgi:app``, as Flask's deployment docs run it."""
    return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}",
            f"--threads={threads}", app]


def cli_serve_command(port: int, threads: int = 4) -> list[str]:
    """The README's ``timekit-api serve``."""
    return [sys.executable, "-c", "from timekit_api.cli import main; main()", "serve",
            "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)]


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
