"""The OpenAPI document, Swagger UI, the error shape, CORS and the factory."""


import pytest

from helpers import base_config, serving_app
from timekit_api import create_app
from timekit_api.database.migrate import upgrade_to_head

SEED_MODELS = {  # the seed's models: field -> (type, format)
    "Pet": {"id": ("integer", "int64"), "category": (None, None), "name": ("string", None),
            "photoUrls": ("array", None), "tags": ("array", None), "status": ("string", None)},
    "Order": {"id": ("integer", "int64"), "petId": ("integer", "int64"),
              "quantity": ("integer", "int32"), "shipDate": ("string", "date-time"),
              "status": ("string", None), "complete": ("boolean", None)},
    "User": {"id": ("integer", "int64"), "username": ("string", None),
             "firstName": ("string", None), "lastName": ("string", None),
             "email": ("string", None), "password": ("string", None),
             "phone": ("string", None), "userStatus": ("integer", "int32")},
    "Category": {"id": ("integer", "int64"), "name": ("string", None)},
    "Tag": {"id": ("integer", "int64"), "name": ("string", None)},
    "ApiResponse": {"code": ("integer", "int32"), "type": ("string", None),
                    "message": ("string", None)},
}
SEED_SUMMARIES = {
    ("/v2/pet", "post"): "Add a new pet to the store",
    ("/v2/pet", "put"): "Update an existing pet",
    ("/v2/pet/findByStatus", "get"): "Finds Pets by status",
    ("/v2/pet/findByTags", "get"): "Finds Pets by tags",
    ("/v2/pet/{petId}", "get"): "Find pet by ID",
    ("/v2/pet/{petId}", "post"): "Updates a pet in the store with form data",
    ("/v2/pet/{petId}", "delete"): "Deletes a pet",
    ("/v2/pet/{petId}/uploadImage", "post"): "uploads an image",
    ("/v2/store/inventory", "get"): "Returns pet inventories by status",
    ("/v2/store/order", "post"): "Place an order for a pet",
    ("/v2/store/order/{orderId}", "get"): "Find purchase order by ID",
    ("/v2/store/order/{orderId}", "delete"): "Delete purchase order by ID",
    ("/v2/user", "post"): "Create user",
    ("/v2/user/createWithArray", "post"): "Creates list of users with given input array",
    ("/v2/user/createWithList", "post"): "Creates list of users with given input array",
    ("/v2/user/login", "get"): "Logs user into the system",
    ("/v2/user/logout", "get"): "Logs out current logged in user session",
    ("/v2/user/{username}", "get"): "Get user by user name",
    ("/v2/user/{username}", "put"): "Updated user",
    ("/v2/user/{username}", "delete"): "Delete user",
}


@pytest.fixture
def spec(client):
    response = client.get("/v2/openapi.json")
    assert response.status_code == 200
    return response.json


def resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


class TestDocument:
    def test_tags_in_seed_order(self, spec):
        assert [t["name"] for t in spec["tags"]][:4] == [
            "Authentication", "Booking", "Store", "User"]

    def test_every_seed_operation_with_its_summary(self, spec):
        for (path, method), summary in SEED_SUMMARIES.items():
            assert spec["paths"][path][method]["summary"] == summary, (path, method)

    @pytest.mark.parametrize("model", SEED_MODELS)
    def test_models_match_the_seed(self, spec, model):
        name = {"Pet": "Pet", "Order": "Order", "User": "User", "Category": "Category",
                "Tag": "Tag", "ApiResponse": "ApiResponse"}[model]
        schema = spec["components"]["schemas"][name]
        assert set(schema["properties"]) == set(SEED_MODELS[model])
        for field, (kind, fmt) in SEED_MODELS[model].items():
            prop = schema["properties"][field]
            if kind:
                assert prop.get("type") == kind, (model, field)
            if fmt:
                assert prop.get("format") == fmt, (model, field)

    def test_required_fields_and_enums(self, spec):
        schemas = spec["components"]["schemas"]
        assert set(schemas["Pet"]["required"]) == {"name", "photoUrls"}
        assert schemas["Pet"]["properties"]["status"]["enum"] == ["available", "pending", "sold"]
        assert schemas["Order"]["properties"]["status"]["enum"] == [
            "placed", "approved", "delivered"]
        assert schemas["User"]["properties"]["password"].get("writeOnly") is True

    def test_error_responses_documented_with_seed_descriptions(self, spec):
        get_pet = spec["paths"]["/v2/pet/{petId}"]["get"]["responses"]
        assert get_pet["400"]["description"] == "Invalid ID supplied"
        assert get_pet["404"]["description"] == "Pet not found"
        add_pet = spec["paths"]["/v2/pet"]["post"]["responses"]
        assert add_pet["405"]["description"] == "Invalid input"
        assert "401" in add_pet

    def test_security_schemes_and_requirements(self, spec):
        schemes = spec["components"]["securitySchemes"]
        assert schemes["api_key"] == {**schemes["api_key"], "type": "apiKey", "name": "api_key",
                                      "in": "header"}
        password_flow = schemes["petstore_auth"]["flows"]["password"]
        assert set(password_flow["scopes"]) == {"read:pets", "write:pets"}
        add_pet = spec["paths"]["/v2/pet"]["post"]
        assert {"petstore_auth": ["write:pets"]} in add_pet["security"]
        assert {"api_key": []} in add_pet["security"]
        assert "security" not in spec["paths"]["/v2/pet/{petId}"]["get"]

    def test_find_by_status_parameter_is_an_enum_array(self, spec):
        [param] = spec["paths"]["/v2/pet/findByStatus"]["get"]["parameters"]
        assert param["in"] == "query" and param["schema"]["type"] == "array"
        assert param["schema"]["items"]["enum"] == ["available", "pending", "sold"]

    def test_upload_is_one_multipart_body(self, spec):
        body = spec["paths"]["/v2/pet/{petId}/uploadImage"]["post"]["requestBody"]
        schema = resolve(spec, body["content"]["multipart/form-data"]["schema"])
        assert set(schema["properties"]) == {"additionalMetadata", "file"}
        assert schema["properties"]["file"]["format"] == "binary"

    def test_login_documents_headers(self, spec):
        headers = spec["paths"]["/v2/user/login"]["get"]["responses"]["200"]["headers"]
        assert set(headers) == {"X-Rate-Limit", "X-Expires-After"}


class TestSwaggerUI:
    def test_page_uses_local_assets(self, client):
        page = client.get("/v2/docs")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "docs/assets/swagger-ui-bundle.js" in html
        assert "//cdn" not in html and "unpkg" not in html and "jsdelivr" not in html
        asset = client.get("/v2/docs/assets/swagger-ui-bundle.js")
        assert asset.status_code == 200 and len(asset.data) > 100_000
        assert client.get("/v2/docs/assets/swagger-ui.css").status_code == 200

    def test_assets_cannot_escape_their_folder(self, client):
        assert client.get("/v2/docs/assets/../../../etc/passwd").status_code == 404
        assert client.get("/v2/docs/assets/%2e%2e/__init__.py").status_code == 404


class TestErrors:
    def test_unknown_route_is_json_404(self, client):
        response = client.get("/v2/nothing/here")
        assert response.status_code == 404
        assert response.is_json and response.json["type"] == "error"

    def test_wrong_method_is_405_with_allow(self, client):
        response = client.delete("/v2/store/inventory")
        assert response.status_code == 405
        assert response.json["code"] == 405
        assert set(response.headers["Allow"].split(", ")) >= {"GET"}

    def test_huge_body_is_413(self, app, client, alice):
        response = client.post("/v2/pet", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                               content_type="application/json", headers=alice)
        assert response.status_code == 413
        assert response.json["code"] == 413

    @pytest.mark.parametrize("body", [
        b"[" * 5000 + b"]" * 5000,
        b'{"name": 1' + b"0" * 5000 + b', "photoUrls": []}',
        b'{"name": "\xff\xfe", "photoUrls": []}',
        b'{"id": 1e400, "name": "x", "photoUrls": []}',
    ])
    def test_hostile_json_is_4xx(self, client, alice, body):
        response = client.post("/v2/pet", data=body, content_type="application/json",
                               headers=alice)
        assert 400 <= response.status_code < 500
        assert response.json["type"] == "error"

    def test_database_unreachable_is_503(self, tmp_path):
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/x.db",
                          "AUTO_CREATE_SCHEMA": False})
        response = app.test_client().get("/v2/store/inventory")
        assert response.status_code == 503
        assert response.json == {"code": 503, "type": "error",
                                 "message": "Database unavailable, try again later"}


class TestCors:
    def test_simple_request_allows_any_origin(self, client):
        response = client.get("/v2/store/inventory", headers={"Origin": "https://x.example"})
        assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://x.example")

    def test_preflight(self, client):
        response = client.options("/v2/pet", headers={
            "Origin": "https://x.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "api_key, content-type"})
        assert response.status_code == 200
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "api_key" in allowed and "content-type" in allowed

    def test_origins_are_configurable(self, tmp_path):
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
                          "CORS_ORIGINS": "https://good.example"})
        client = app.test_client()
        good = client.get("/v2/store/inventory", headers={"Origin": "https://good.example"})
        bad = client.get("/v2/store/inventory", headers={"Origin": "https://evil.example"})
        assert good.headers.get("Access-Control-Allow-Origin") == "https://good.example"
        assert "Access-Control-Allow-Origin" not in bad.headers


class TestFactory:
    def test_layered_configuration(self, tmp_path, monkeypatch):
        instance = tmp_path / "instance"
        instance.mkdir()
        (instance / "config.py").write_text("TOKEN_TTL_SECONDS = 111\nSIGNUP_ENABLED = False\n")
        monkeypatch.setenv("TIMEKIT_TOKEN_TTL_SECONDS", "222")
        monkeypatch.setenv("TIMEKIT_DATABASE_URL", f"sqlite:///{tmp_path}/f.db")
        import flask
        monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
        app = create_app()
        assert app.config["SIGNUP_ENABLED"] is False      # from instance/config.py
        assert app.config["TOKEN_TTL_SECONDS"] == 222     # environment wins
        assert create_app({"TOKEN_TTL_SECONDS": 5}).config["TOKEN_TTL_SECONDS"] == 5

    def test_bad_environment_value_fails_loudly(self, monkeypatch):
        monkeypatch.setenv("TIMEKIT_SIGNUP_ENABLED", "perhaps")
        with pytest.raises(ValueError, match="TIMEKIT_SIGNUP_ENABLED"):
            create_app()

    def test_sqlite_default_lives_in_instance_folder(self, tmp_path, monkeypatch):
        import flask
        monkeypatch.delenv("TIMEKIT_DATABASE_URL", raising=False)
        monkeypatch.setattr(flask.Flask, "auto_find_instance_path",
                            lambda self: str(tmp_path / "inst"))
        app = create_app()
        assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'timekit.sqlite3'}"
        assert not (tmp_path / "inst").exists()  # building an app touches no database
        upgrade_to_head(app)  # what a serving process does
        assert (tmp_path / "inst" / "timekit.sqlite3").exists()

    def test_test_configuration_ignores_instance_file_and_environment(self, tmp_path,
                                                                       monkeypatch):
        import flask
        instance = tmp_path / "instance"
        instance.mkdir()
        (instance / "config.py").write_text("SIGNUP_ENABLED = False\n")
        monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
        monkeypatch.setenv("TIMEKIT_API_PREFIX", "/api")
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/t.db"})
        assert app.config["API_PREFIX"] == "/v2"
        assert app.config["SIGNUP_ENABLED"] is True

    def test_exported_settings_do_not_leak_into_the_suite(self, tmp_path, monkeypatch):
        """`TIMEKIT_API_PREFIX=/api pytest ...` failed every test: fixtures now build apps from
        their test configuration alone."""
        monkeypatch.setenv("TIMEKIT_API_PREFIX", "/api")
        app = serving_app(base_config(tmp_path))
        assert app.test_client().get("/v2/store/inventory").status_code == 200

    def test_prefix_is_configurable(self, tmp_path):
        app = serving_app({"DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                           "API_PREFIX": "/api/v2"})
        client = app.test_client()
        assert client.get("/api/v2/store/inventory").status_code == 200
        assert client.get("/v2/store/inventory").status_code == 404
        assert "/api/v2/pet" in client.get("/api/v2/openapi.json").json["paths"]


    def test_two_apps_in_one_process_keep_their_own_documents(self, tmp_path):
        first = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "API_PREFIX": "/a"})
        second = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/b.db", "API_PREFIX": "/b"})
        assert "/a/pet" in first.test_client().get("/a/openapi.json").json["paths"]
        assert "/b/pet" in second.test_client().get("/b/openapi.json").json["paths"]


class TestDemoData:
    def test_load_demo_matches_reference(self, runner, client):
        result = runner.invoke(args=["load-demo"])
        assert result.exit_code == 0 and "DEMO" in result.output
        assert client.get("/v2/store/inventory").json == {"available": 7, "pending": 2, "sold": 1}
        dog = client.get("/v2/pet/4").json
        assert dog == {"id": 4, "category": {"id": 1, "name": "Dogs"}, "name": "Dog 1",
                       "photoUrls": ["url1", "url2"],
                       "tags": [{"id": 1, "name": "tag1"}, {"id": 2, "name": "tag2"}],
                       "status": "available"}
        token = client.post("/v2/auth", json={"email": "doc.brown@timekit.io",
                                              "password": "DeLorean"}).json["data"]["api_token"]
        assert token
        user1 = client.get("/v2/user/login?username=user1&password=demo-password").json
        order = client.get("/v2/store/order/2", headers={"api_key": user1}).json
        assert order["petId"] == 1 and order["status"] == "delivered" and order["quantity"] == 2
        assert runner.invoke(args=["load-demo"]).exit_code == 0  # idempotent
        assert len(client.get("/v2/pet/findByStatus?status=available").json) == 7


def test_integrity_error_is_409_in_error_shape(app, client, alice, monkeypatch):
    """A uniqueness race lost to another request ends as a 409, not a 500."""
    from timekit_api.domain import accounts

    monkeypatch.setattr(accounts, "ensure_free", lambda *a, **k: None)  # skip the pre-check
    client.post("/v2/user", json={"username": "dup", "password": "password-p"})
    response = client.post("/v2/user", json={"username": "dup", "password": "password-p"})
    assert response.status_code == 409
    assert response.json == {"code": 409, "type": "error",
                             "message": "Conflicts with existing data"}


def test_every_operation_is_filed_under_a_declared_tag(spec):
    declared = {t["name"] for t in spec["tags"]}
    assert declared == {"Authentication", "Booking", "Store", "User"}
    expected = {"/v2/auth": "Authentication", "/v2/oauth/token": "Authentication",
                "/v2/credentials": "Authentication",
                "/v2/pet": "Booking", "/v2/bookings": "Booking", "/v2/resources": "Booking",
                "/v2/availability": "Booking", "/v2/findtime": "Booking", "/v2/webhooks": "Booking",
                "/v2/store": "Store",
                "/v2/user": "User"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            prefix = next(p for p in expected if path.startswith(p))
            assert operation["tags"] == [expected[prefix]], (path, method)
