"""User and Authentication tags: accounts, tokens, sign-in throttling."""

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from helpers import base_config, bearer, clean_database, serving_app
from timekit_api.database import db
from timekit_api.database.models import ApiToken, User


def user_body(username, **fields):
    return {"username": username, "password": "secret-pw", "email": f"{username}@example.com",
            **fields}


class TestCreateUser:
    def test_signup_returns_user_without_password(self, client):
        body = user_body("neo", firstName="Thomas", lastName="Anderson", phone="1",
                         userStatus=1)
        response = client.post("/v2/user", json=body)
        assert response.status_code == 200
        created = response.json
        assert "password" not in created
        assert created == {"id": created["id"], "username": "neo", "firstName": "Thomas",
                           "lastName": "Anderson", "email": "neo@example.com", "phone": "1",
                           "userStatus": 1}

    def test_password_is_stored_hashed(self, app, client):
        client.post("/v2/user", json=user_body("neo"))
        with app.app_context():
            stored = db.session.scalar(sa.select(User.password_hash))
        assert "secret-pw" not in stored and stored.startswith("pbkdf2:")

    def test_the_default_hash_is_scrypt_at_owasps_8_mib_setting(self, tmp_path):
        config = base_config(tmp_path)
        del config["PASSWORD_HASH_METHOD"]  # as a deployment that never set it
        app = serving_app(config)
        client = app.test_client()
        assert client.post("/v2/user", json=user_body("neo")).status_code == 200
        with app.app_context():
            stored = db.session.scalar(sa.select(User.password_hash))
        assert stored.startswith("scrypt:8192:8:10$")
        assert client.get("/v2/user/login", query_string={
            "username": "neo", "password": "secret-pw"}).status_code == 200
        clean_database(app)

    def test_a_password_hashed_with_earlier_parameters_still_signs_in(self, app, client):
        """Each stored hash names its own method: hashes made with Werkzeug's scrypt
        default (32 MiB, this service's default until 2026-12) keep working."""
        client.post("/v2/user", json=user_body("neo"))
        with app.app_context():
            db.session.execute(sa.update(User).values(
                password_hash=generate_password_hash("secret-pw", method="scrypt")))
            db.session.commit()
        assert client.get("/v2/user/login", query_string={
            "username": "neo", "password": "secret-pw"}).status_code == 200
        assert client.get("/v2/user/login", query_string={
            "username": "neo", "password": "wrong-pw"}).status_code == 400

    @pytest.mark.parametrize("clash", [{"username": "neo"}, {"email": "neo@example.com"}])
    def test_duplicate_username_or_email_is_409(self, client, clash):
        client.post("/v2/user", json=user_body("neo"))
        body = {**user_body("other"), **clash}
        response = client.post("/v2/user", json=body)
        assert response.status_code == 409
        assert response.json["type"] == "error"

    @pytest.mark.parametrize("body, field", [
        ({"password": "password-x"}, "username"),
        ({"username": "a/b", "password": "password-x"}, "username"),
        ({"username": "neo"}, "password"),
        ({"username": "neo", "password": "password-x", "email": "nope"}, "email"),
        ({"username": "neo", "password": "password-x", "userStatus": "1"}, "userStatus"),
    ])
    def test_invalid_user_is_400(self, client, body, field):
        response = client.post("/v2/user", json=body)
        assert response.status_code == 400
        assert field in response.json["errors"]

    def test_signup_can_be_disabled(self, app, client, api):
        alice = api.user("alice")
        app.config["SIGNUP_ENABLED"] = False
        assert client.post("/v2/user", json=user_body("neo")).status_code == 401
        assert client.post("/v2/user", json=user_body("neo"), headers=alice).status_code == 200


class TestCreateWithArray:
    @pytest.mark.parametrize("path", ["/v2/user/createWithArray", "/v2/user/createWithList"])
    def test_creates_all(self, client, alice, path):
        response = client.post(path, json=[user_body("u1"), user_body("u2")], headers=alice)
        assert response.status_code == 200
        assert [u["username"] for u in response.json] == ["u1", "u2"]

    @pytest.mark.parametrize("batch", [
        [user_body("u1"), user_body("alice")],          # clashes with the database
        [user_body("u1"), user_body("u1")],             # clashes within the batch
        [user_body("u1"), {"username": "u2"}],          # invalid member
    ])
    def test_all_or_nothing(self, app, client, alice, batch):
        response = client.post("/v2/user/createWithArray", json=batch, headers=alice)
        assert response.status_code in (400, 409)
        with app.app_context():
            assert db.session.scalar(sa.select(User).where(User.username == "u1")) is None

    def test_not_an_array_is_400(self, client, alice):
        response = client.post("/v2/user/createWithList", json=user_body("u1"), headers=alice)
        assert response.status_code == 400


class TestLogin:
    def test_returns_token_string_and_headers(self, client, api):
        api.signup("neo")
        response = client.get("/v2/user/login?username=neo&password=secret-pw")
        assert response.status_code == 200
        assert isinstance(response.json, str) and len(response.json) >= 32
        assert int(response.headers["X-Rate-Limit"]) > 0
        expires = dt.datetime.fromisoformat(response.headers["X-Expires-After"])
        assert expires.tzinfo is not None and expires > dt.datetime.now(dt.UTC)

    def test_token_is_stored_only_as_digest(self, app, api):
        api.signup("neo")
        token = api.login("neo")
        with app.app_context():
            digests = db.session.scalars(sa.select(ApiToken.digest)).all()
        assert token not in digests
        assert hashlib.sha256(token.encode()).hexdigest() in digests

    @pytest.mark.parametrize("query", ["username=neo&password=wrong", "username=nobody&password=x",
                                       "username=neo"])
    def test_bad_credentials_are_400(self, client, api, query):
        api.signup("neo")
        response = client.get(f"/v2/user/login?{query}")
        assert response.status_code == 400
        assert response.json["code"] == 400

    def test_login_by_email_works(self, client, api):
        api.signup("neo")
        assert client.get("/v2/user/login?username=neo@example.com&password=secret-pw"
                          ).status_code == 200

    def test_throttled_then_locked_with_retry_after(self, app, client, api):
        app.config.update(LOGIN_FAILURES_BEFORE_LOCK=3, LOGIN_LOCK_SECONDS=60)
        api.signup("neo")
        for _ in range(3):
            assert client.get("/v2/user/login?username=neo&password=bad").status_code == 400
        locked = client.get("/v2/user/login?username=neo&password=secret-pw")
        assert locked.status_code == 429
        assert 0 < int(locked.headers["Retry-After"]) <= 60
        assert client.post("/v2/auth", json={"email": "neo@example.com",
                                             "password": "secret-pw"}).status_code == 429

    def test_success_resets_the_failure_count(self, app, client, api):
        app.config.update(LOGIN_FAILURES_BEFORE_LOCK=3)
        api.signup("neo")
        for _ in range(2):
            client.get("/v2/user/login?username=neo&password=bad")
        api.login("neo")
        for _ in range(2):
            client.get("/v2/user/login?username=neo&password=bad")
        assert client.get("/v2/user/login?username=neo&password=secret-pw").status_code == 200


class TestTokens:
    def test_logout_revokes_only_the_token_used(self, client, api):
        api.signup("neo")
        first, second = api.login("neo"), api.login("neo")
        assert client.get("/v2/user/logout", headers=bearer(first)).status_code == 200
        assert client.get("/v2/user/neo", headers=bearer(first)).status_code == 401
        assert client.get("/v2/user/neo", headers=bearer(second)).status_code == 200

    def test_expired_token_is_401(self, app, client, api):
        api.signup("neo")
        token = api.login("neo")
        with app.app_context():
            db.session.execute(sa.update(ApiToken).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
            db.session.commit()
        assert client.get("/v2/user/neo", headers=bearer(token)).status_code == 401

    def test_ttl_is_configurable(self, app, client, api):
        app.config["TOKEN_TTL_SECONDS"] = 60
        api.signup("neo")
        response = client.get("/v2/user/login?username=neo&password=secret-pw")
        expires = dt.datetime.fromisoformat(response.headers["X-Expires-After"])
        left = expires - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=50) < left <= dt.timedelta(seconds=60)

    def test_second_instance_on_same_database_accepts_token(self, app, api, tmp_path):
        api.signup("neo")
        token = api.login("neo")
        other = serving_app({**base_config(tmp_path), "DATABASE_URL": app.config["DATABASE_URL"]})
        assert other.test_client().get("/v2/user/neo", headers=bearer(token)).status_code == 200


class TestUserRecord:
    def test_get_own_record(self, client, alice):
        assert client.get("/v2/user/alice", headers=alice).json["username"] == "alice"

    def test_invalid_username_is_400_and_unknown_404(self, client, alice):
        assert client.get("/v2/user/bad$name", headers=alice).status_code == 400
        assert client.get("/v2/user/nobody", headers=alice).status_code == 404
        assert client.put("/v2/user/nobody", json=user_body("nobody"),
                          headers=alice).status_code == 404
        assert client.delete("/v2/user/nobody", headers=alice).status_code == 404

    def test_update_keeps_password_unless_given(self, client, api, alice):
        response = client.put("/v2/user/alice", json={"username": "alice", "firstName": "Al"},
                              headers=alice)
        assert response.status_code == 200 and response.json["firstName"] == "Al"
        api.login("alice")  # old password still works
        client.put("/v2/user/alice", json={"username": "alice", "password": "new-password"},
                   headers=alice)
        assert client.get("/v2/user/login?username=alice&password=new-password").status_code == 200

    def test_rename_to_taken_username_is_409(self, client, api, alice):
        api.signup("bob")
        assert client.put("/v2/user/alice", json={"username": "bob"},
                          headers=alice).status_code == 409

    def test_invalid_update_is_400(self, client, alice):
        assert client.put("/v2/user/alice", json={"username": "alice", "email": "x"},
                          headers=alice).status_code == 400

    def test_delete_removes_user_and_tokens_keeps_pets(self, client, api, alice):
        pet = api.add_pet(alice)
        assert client.delete("/v2/user/alice", headers=alice).status_code == 200
        assert client.get("/v2/user/alice", headers=alice).status_code == 401
        assert client.get(f"/v2/pet/{pet['id']}").status_code == 200


class TestTimekitAuth:
    def test_seed_shape(self, client, api):
        api.signup("doc", firstName="Dr. Emmett", lastName="Brown")
        response = client.post("/v2/auth", json={"email": "doc@example.com",
                                                 "password": "secret-pw"})
        assert response.status_code == 200
        data = response.json["data"]
        assert list(response.json) == ["data"]
        assert set(data) == {"activated", "email", "first_name", "last_name", "name", "img",
                             "timezone", "last_sync", "token", "token_generated_at",
                             "api_token"}
        assert data["name"] == "Dr. Emmett Brown" and data["activated"] is True
        assert data["img"].startswith("https://www.gravatar.com/avatar/")
        assert data["token"] != data["api_token"]

    @pytest.mark.parametrize("body, status", [
        ({"email": "doc@example.com", "password": "wrong"}, 401),
        ({"email": "nobody@example.com", "password": "password-x"}, 401),
        ({"email": "doc@example.com"}, 400),
    ])
    def test_failures(self, client, api, body, status):
        api.signup("doc")
        response = client.post("/v2/auth", json=body)
        assert response.status_code == status
        assert response.json["type"] == "error"


class TestOAuth:
    def test_password_grant(self, client, api):
        api.signup("neo")
        response = client.post("/v2/oauth/token", data={
            "grant_type": "password", "username": "neo", "password": "secret-pw"})
        assert response.status_code == 200
        assert response.json["token_type"] == "Bearer"
        assert response.json["scope"] == "read:pets write:pets"

    @pytest.mark.parametrize("form, error", [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "password", "password": "bad"}, "invalid_grant"),
        ({"grant_type": "password", "scope": "admin"}, "invalid_scope"),
    ])
    def test_errors_follow_rfc6749(self, client, api, form, error):
        api.signup("neo")
        response = client.post("/v2/oauth/token",
                               data={"username": "neo", "password": "secret-pw", **form})
        assert response.status_code == 400
        assert response.json["error"] == error and response.json["type"] == "error"
