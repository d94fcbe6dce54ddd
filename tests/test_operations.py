"""Operations: health, an unreachable database, SQLite settings, the access log, the CLI."""

from __future__ import annotations

import json
import logging
import os

import pytest
import sqlalchemy as sa

from helpers import TEST_DATABASE_URL, base_config, basic, bearer, free_port, serving_app
from timekit_api.database import db

needs_sqlite = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite settings")


def assert_error_shape(response, code):
    assert response.status_code == code
    assert response.is_json, response.data[:200]
    assert response.json["code"] == code
    assert response.json["type"] == "error"
    assert response.json["message"]
    assert "Traceback" not in response.get_data(as_text=True)


# --- health and an unreachable database -------------------------------------------------------

def test_health_checks_the_database(client):
    response = client.get("/v2/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_client(request, tmp_path):
    url = (f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
           if request.param == "postgresql"
           else f"sqlite:///{tmp_path / 'missing-directory' / 'db.sqlite3'}")
    app = serving_app({**base_config(tmp_path), "DATABASE_URL": url,
                      "AUTO_CREATE_SCHEMA": False})
    return app.test_client()


@pytest.mark.parametrize("method, path, kwargs", [
    ("get", "/v2/health", {}),
    ("get", "/v2/pet/1", {}),
    ("get", "/v2/pet/findByStatus", {"query_string": {"status": "available"}}),
    ("get", "/v2/store/inventory", {}),
    ("post", "/v2/auth", {"json": {"email": "a@example.com", "password": "pw-secret"}}),
    ("get", "/v2/user/login", {"query_string": {"username": "alice", "password": "pw-secret"}}),
    ("post", "/v2/user", {"json": {"username": "newbie", "password": "pw-secret"}}),
    ("get", "/v2/user/alice", {"headers": {"api_key": "some-token"}}),
    ("delete", "/v2/pet/1", {"headers": bearer("some-token")}),
])
def test_unreachable_database_is_a_503_in_the_error_shape(unreachable_client, method, path,
                                                          kwargs, caplog):
    response = getattr(unreachable_client, method)(path, **kwargs)
    assert_error_shape(response, 503)
    assert "Retry-After" in response.headers


def test_health_names_the_database_when_it_is_unreachable(unreachable_client):
    response = unreachable_client.get("/v2/health")
    assert_error_shape(response, 503)
    assert response.json["errors"] == {"database": ["unreachable"]}
    assert response.headers["Cache-Control"] == "no-store"


def test_docs_still_work_without_a_database(unreachable_client):
    assert unreachable_client.get("/v2/openapi.json").status_code == 200
    assert unreachable_client.get("/v2/docs").status_code == 200


# --- SQLite settings for a multi-threaded server ----------------------------------------------

@needs_sqlite
def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path):
    app = serving_app({**base_config(tmp_path), "SQLITE_BUSY_TIMEOUT_MS": 4321})
    with app.app_context(), db.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == 4321
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 1  # NORMAL
    with app.app_context():
        db.engine.dispose()


@needs_sqlite
def test_sqlite_foreign_keys_are_enforced(app):
    import datetime as dt

    from timekit_api.database.models import ApiToken
    with app.app_context():
        db.session.add(ApiToken(digest="d" * 64, user_id=999, kind="api",
                                expires_at=dt.datetime.now(dt.UTC)))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


# --- access log ---------------------------------------------------------------------------------

def access_lines(caplog):
    return [r for r in caplog.records if r.name == "timekit_api.access"]


def test_one_access_line_per_request_with_its_fields(client, caplog):
    caplog.set_level(logging.INFO, logger="timekit_api.access")
    response = client.get("/v2/pet/987654", headers={"X-Request-Id": "req-123"})
    assert response.status_code == 404
    assert response.headers["X-Request-Id"] == "req-123"
    client.get("/v2/store/inventory")
    lines = access_lines(caplog)
    assert len(lines) == 2
    message = lines[0].getMessage()
    assert message.startswith("GET /v2/pet/987654 404 ")
    assert "ms id=req-123" in message
    second_id = lines[1].getMessage().rsplit("id=", 1)[1]
    assert len(second_id) == 32 and second_id != "req-123"


def test_hostile_request_ids_are_replaced(client, caplog):
    caplog.set_level(logging.INFO, logger="timekit_api.access")
    response = client.get("/v2/store/inventory", headers={"X-Request-Id": "evil\tid id=forged"})
    assert response.headers["X-Request-Id"] != "evil\tid id=forged"
    assert "forged" not in caplog.text


def test_access_log_as_json(tmp_path, caplog):
    app = serving_app({**base_config(tmp_path), "ACCESS_LOG_JSON": True})
    caplog.set_level(logging.INFO, logger="timekit_api.access")
    app.test_client().get("/v2/store/inventory?x=1", headers={"X-Request-Id": "abc"})
    (line,) = access_lines(caplog)
    fields = json.loads(line.getMessage())
    assert fields["method"] == "GET"
    assert fields["path"] == "/v2/store/inventory"
    assert fields["status"] == 200
    assert fields["request_id"] == "abc"
    assert isinstance(fields["duration_ms"], float)
    with app.app_context():
        db.engine.dispose()


def test_access_log_can_be_switched_off(tmp_path, caplog):
    app = serving_app({**base_config(tmp_path), "ACCESS_LOG": False})
    caplog.set_level(logging.INFO, logger="timekit_api.access")
    app.test_client().get("/v2/store/inventory")
    assert access_lines(caplog) == []
    with app.app_context():
        db.engine.dispose()


def test_no_credential_reaches_any_log(api, client, caplog):
    """Everything at DEBUG, SQLAlchemy's statements at INFO: no password, token, stored hash
    or login query string in any record, for a login, authenticated requests and POST /auth.
    (SQLAlchemy at DEBUG logs result rows, the data itself: docs/OPERATIONS.md warns.)"""
    password = "Sup3r-Secret-Pw"
    api.signup("logan", password=password)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy sets itself to WARNING; alembic's logging config (db commands) sets the engine.
    caplog.set_level(logging.INFO, logger="sqlalchemy")
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")

    token = api.login("logan", password)
    auth = client.post("/v2/auth", json={"email": "logan@example.com", "password": password})
    assert auth.status_code == 200
    secrets = [password, token, auth.json["data"]["token"], auth.json["data"]["api_token"]]
    assert client.get("/v2/user/logan", headers=bearer(token)).status_code == 200
    assert client.get("/v2/user/logan", headers={"api_key": secrets[2]}).status_code == 200
    assert client.get("/v2/user/logan",
                      headers=basic("logan@example.com", secrets[3])).status_code == 200
    assert client.get("/v2/user/login", query_string={"username": "logan",
                                                      "password": "wrong-" + password}
                      ).status_code == 400

    records = caplog.records
    assert len(access_lines(caplog)) == 6
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)  # really at DEBUG
    text = "\n".join(r.getMessage() + (caplog.text if r.exc_info else "") for r in records)
    for secret in secrets:
        assert secret not in text
    assert "password=" not in text
    assert "username=logan" not in text
    assert "pbkdf2:" not in text  # nor the stored hash
    login_lines = [r.getMessage() for r in access_lines(caplog)
                   if "/v2/user/login" in r.getMessage()]
    assert login_lines and all("?" not in line for line in login_lines)


# --- command line -------------------------------------------------------------------------------

def test_init_db_and_create_user_commands(app, runner, api, client):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "Database ready." in result.output
    result = runner.invoke(args=["create-user", "cliuser", "--email", "cli@example.com"],
                           input="cli-password\ncli-password\n")
    assert result.exit_code == 0, result.output
    assert "cli-password" not in result.output
    assert isinstance(api.login("cliuser", "cli-password"), str)
    auth = client.post("/v2/auth", json={"email": "cli@example.com", "password": "cli-password"})
    assert auth.status_code == 200


@pytest.mark.parametrize("username, message", [
    ("taken", "Error: username 'taken' is already taken"),
    ("bad name!", "Error: Invalid username 'bad name!'"),
])
def test_create_user_refuses_with_a_one_line_error(runner, api, username, message):
    """The domain's rules hold on the command line too: no traceback, no user the API could
    never address."""
    api.signup("taken")
    result = runner.invoke(args=["create-user", username, "--password", "pw-pw-pw"])
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_commands_that_need_no_database_create_none(tmp_path, monkeypatch):
    """`timekit-api --help` and `settings` build the app but touch no database."""
    import flask
    from click.testing import CliRunner

    from timekit_api.cli import main

    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(tmp_path))
    for name in list(os.environ):
        if name.startswith("TIMEKIT_"):
            monkeypatch.delenv(name)
    for args in (["--help"], ["settings"]):
        assert CliRunner().invoke(main, args).exit_code == 0
    assert not (tmp_path / "timekit.sqlite3").exists()


def test_db_command_group_is_on_the_timekit_api_command(runner):
    result = runner.invoke(args=["db", "--help"])
    assert result.exit_code == 0
    assert "upgrade" in result.output and "migrate" in result.output
