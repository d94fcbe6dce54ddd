"""Issue 11: official operation names, Swagger 2.0, XML, and one stored form of each pet.

The consistency tests write pets through every path there is (HTTP, the CLI's demo loader
in its own process, a second process of the service, bulk Core statements on the database
itself) and check that a running server's GET pet, findByStatus, findByTags and inventory
agree with each other and with what was written. Runs on SQLite and, with
TIMEKIT_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import collections
import concurrent.futures
import io
import os
import subprocess
import sys
import textwrap

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.views import MethodView
from openapi_spec_validator.validation.validators import OpenAPIV2SpecValidator

from helpers import PNG, ROOT, bearer, http_session
from timekit_api.embed import mount
from timekit_api.http.blueprint import Blueprint

PETSTORE_OPERATIONS = {
    ("post", "/pet"): "addPet", ("put", "/pet"): "updatePet",
    ("get", "/pet/findByStatus"): "findPetsByStatus", ("get", "/pet/findByTags"): "findPetsByTags",
    ("get", "/pet/{petId}"): "getPetById", ("post", "/pet/{petId}"): "updatePetWithForm",
    ("delete", "/pet/{petId}"): "deletePet", ("post", "/pet/{petId}/uploadImage"): "uploadFile",
    ("get", "/store/inventory"): "getInventory", ("post", "/store/order"): "placeOrder",
    ("get", "/store/order/{orderId}"): "getOrderById",
    ("delete", "/store/order/{orderId}"): "deleteOrder",
    ("post", "/user"): "createUser", ("post", "/user/createWithArray"): "createUsersWithArrayInput",
    ("post", "/user/createWithList"): "createUsersWithListInput",
    ("get", "/user/login"): "loginUser", ("get", "/user/logout"): "logoutUser",
    ("get", "/user/{username}"): "getUserByName", ("put", "/user/{username}"): "updateUser",
    ("delete", "/user/{username}"): "deleteUser",
}


# --- operation names -----------------------------------------------------------------------

def test_every_petstore_operation_has_its_official_operation_id(client):
    paths = client.get("/v2/openapi.json").json["paths"]
    for (method, path), operation_id in PETSTORE_OPERATIONS.items():
        assert paths["/v2" + path][method]["operationId"] == operation_id


def test_every_operation_has_a_unique_readable_operation_id(client):
    paths = client.get("/v2/openapi.json").json["paths"]
    ids = [operation["operationId"] for item in paths.values()
           for method, operation in item.items() if method != "parameters"]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert operation_id.isalnum() and "V2" not in operation_id, operation_id


def test_a_route_added_later_gets_a_readable_operation_id(app):
    """The default lives in the Blueprint subclass: other engineers' routes get it too."""
    extra = Blueprint("extra", __name__, url_prefix="/v2/extra", tag="Booking")

    @extra.route("/things/<int:thing_id>")
    class ThingById(MethodView):
        def get(self, thing_id):
            return {}

    app.extensions["timekit_api.openapi"].register_blueprint(extra)
    paths = app.test_client().get("/v2/openapi.json").json["paths"]
    assert paths["/v2/extra/things/{thing_id}"]["get"]["operationId"] == "getThingById"


# --- Swagger 2.0 ---------------------------------------------------------------------------

def test_swagger_json_is_valid_swagger_2_with_the_official_tags(client):
    document = client.get("/v2/swagger.json").json
    assert list(OpenAPIV2SpecValidator(document).iter_errors()) == []
    assert document["swagger"] == "2.0"
    assert (document["host"], document["basePath"]) == ("localhost", "/v2")
    assert [tag["name"] for tag in document["tags"]][:3] == ["pet", "store", "user"]
    for (method, path), operation_id in PETSTORE_OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == [path.split("/")[1]]
        assert "application/xml" in operation["produces"]
    for path in ("/pet", "/store/order", "/user"):
        assert "application/xml" in document["paths"][path]["post"]["consumes"]


def test_swagger_json_names_the_host_and_base_path_of_the_request_when_mounted(tmp_path):
    site = Flask("site")
    mount(site, "/api", config={"DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}",
                                "SECRET_KEY": "x"})
    response = site.test_client().get("/api/v2/swagger.json",
                                      headers={"Host": "pets.example.com:8443"})
    document = response.json
    assert (document["host"], document["basePath"]) == ("pets.example.com:8443", "/api/v2")
    assert "/pet/{petId}" in document["paths"]
    assert list(OpenAPIV2SpecValidator(document).iter_errors()) == []


# --- XML -----------------------------------------------------------------------------------

XML_PET = (b'<?xml version="1.0" encoding="UTF-8"?><Pet><id>4242</id><Category><id>7</id>'
           b'<name>dog</name></Category><name>rex &amp; co</name><photoUrls><photoUrl>u1'
           b'</photoUrl><photoUrl>u2</photoUrl></photoUrls><tags><tag><id>1</id><name>a</name>'
           b'</tag><tag><name>b</name></tag></tags><status>available</status></Pet>')
XML = {"Content-Type": "application/xml", "Accept": "application/xml"}


def test_pet_xml_round_trip(client, alice):
    created = client.post("/v2/pet", data=XML_PET, headers={**alice, **XML})
    assert created.status_code == 200, created.data
    assert created.mimetype == "application/xml"
    assert created.data == XML_PET
    assert client.get("/v2/pet/4242", headers={"Accept": "application/xml"}).data == XML_PET
    assert client.get("/v2/pet/4242").json == {
        "id": 4242, "category": {"id": 7, "name": "dog"}, "name": "rex & co",
        "photoUrls": ["u1", "u2"], "tags": [{"id": 1, "name": "a"}, {"name": "b"}],
        "status": "available"}
    listed = client.get("/v2/pet/findByTags?tags=b", headers={"Accept": "application/xml"})
    assert listed.data == XML_PET.replace(b"<Pet>", b"<pets><Pet>").replace(
        b"</Pet>", b"</Pet></pets>")


def test_order_and_user_xml_round_trips(client, alice, api):
    client.post("/v2/pet", json={"id": 5, "name": "x", "photoUrls": []}, headers=alice)
    order = (b'<Order><id>9</id><petId>5</petId><quantity>2</quantity>'
             b'<shipDate>2030-01-02T03:04:05+00:00</shipDate><status>placed</status>'
             b'<complete>true</complete></Order>')
    placed = client.post("/v2/store/order", data=order, headers={**alice, **XML})
    assert placed.status_code == 200, placed.data
    assert placed.data.endswith(order)
    assert client.get("/v2/store/order/9", headers={**alice, **XML}).data.endswith(order)

    user = (b'<User><username>xml-user</username><firstName>Ada</firstName>'
            b'<email>xml@example.com</email><password>secret-password</password>'
            b'<userStatus>1</userStatus></User>')
    created = client.post("/v2/user", data=user, headers=XML)
    assert created.status_code == 200, created.data
    assert b"<User><id>" in created.data and b"<firstName>Ada</firstName>" in created.data
    assert b"password" not in created.data
    token = api.login("xml-user", "secret-password")
    fetched = client.get("/v2/user/xml-user", headers={**bearer(token), **XML})
    assert b"<username>xml-user</username>" in fetched.data
    batch = (b"<users><User><username>xml-b1</username><password>pw-secret-1</password>"
             b"</User></users>")
    assert client.post("/v2/user/createWithArray", data=batch,
                       headers={**bearer(token), **XML}).status_code == 200


@pytest.mark.parametrize("accept, expected", [
    ("application/xml", "application/xml"),
    ("application/json", "application/json"),
    ("application/xml;q=0.5, application/json", "application/json"),
    ("application/json;q=0.5, application/xml", "application/xml"),
    ("*/*", "application/json"),
    ("", "application/json"),
    ("text/html", "application/json"),
])
def test_content_negotiation_follows_quality_values(client, alice, accept, expected):
    client.post("/v2/pet", json={"id": 3, "name": "x", "photoUrls": []}, headers=alice)
    for path in ("/v2/pet/3", "/v2/pet/404", "/v2/store/inventory"):
        response = client.get(path, headers={"Accept": accept})
        assert response.mimetype == expected, (path, accept)
        assert "Accept" in response.headers["Vary"]


def test_the_openapi_document_offers_xml_where_the_petstore_speaks_it(client):
    paths = client.get("/v2/openapi.json").json["paths"]
    add_pet = paths["/v2/pet"]["post"]
    assert set(add_pet["responses"]["200"]["content"]) == {"application/json",
                                                          "application/xml"}
    for code in ("200", "404"):
        assert set(paths["/v2/pet/{petId}"]["get"]["responses"][code]["content"]) == {
            "application/json", "application/xml"}
    assert set(paths["/v2/user/login"]["get"]["responses"]["200"]["content"]) >= {
        "application/xml"}
    # A form stays a form, and Timekit's own operations stay JSON.
    assert set(paths["/v2/pet/{petId}"]["post"]["requestBody"]["content"]) == {
        "application/x-www-form-urlencoded"}
    assert set(paths["/v2/bookings"]["post"]["requestBody"]["content"]) == {
        "application/json"}
    swagger = client.get("/v2/swagger.json").json["paths"]
    assert swagger["/pet/{petId}"]["get"]["produces"] == ["application/json",
                                                          "application/xml"]
    assert swagger["/pet"]["post"]["consumes"] == ["application/json", "application/xml"]


def test_errors_follow_the_xml_choice(client, alice):
    response = client.get("/v2/pet/404", headers={"Accept": "application/xml"})
    assert response.status_code == 404
    assert response.data.endswith(b"<ApiResponse><code>404</code><type>error</type>"
                                  b"<message>Pet not found</message></ApiResponse>")
    invalid = client.post("/v2/pet", data=b"<Pet><name></name></Pet>",
                          headers={**alice, **XML})
    assert invalid.status_code == 405
    assert b"<ApiResponse><code>405</code>" in invalid.data


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Pet><name>&lol3;</name><photoUrls/></Pet>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE pet [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Pet><name>&secret;</name><photoUrls/></Pet>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE Pet SYSTEM "http://127.0.0.1:9/x.dtd">
<Pet><name>x</name><photoUrls/></Pet>"""


DEEP = b"<Pet><name>x</name><photoUrls/>" + b"<a>" * 50000 + b"</a>" * 50000 + b"</Pet>"


def test_unknown_and_deeply_nested_xml_elements_are_named_not_a_crash(client, alice):
    response = client.post("/v2/pet", data=DEEP, headers={**alice, **XML})
    assert response.status_code in (400, 405), response.data
    assert b"<ApiResponse>" in response.data


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD,
                                  b"<Pet><name>x</name>", b"\xff\xfe<", b"<Pet>&undefined;</Pet>"])
def test_hostile_or_broken_xml_is_400(client, alice, body):
    response = client.post("/v2/pet", data=body, headers={**alice, **XML})
    assert response.status_code == 400, response.data
    assert b"<ApiResponse><code>400</code>" in response.data
    assert client.get("/v2/pet/findByStatus?status=available,pending,sold").json == []


def test_xml_end_to_end_through_waitress(live_server):
    session = http_session(live_server.url, "xml-e2e")
    created = session.post(f"{live_server.url}/pet", data=XML_PET, headers=XML, timeout=10)
    assert created.status_code == 200, created.text
    fetched = requests.get(f"{live_server.url}/pet/4242", headers={"Accept": "application/xml"},
                           timeout=10)
    assert fetched.content == XML_PET
    assert fetched.headers["Content-Type"] == "application/xml; charset=utf-8"
    bomb = session.post(f"{live_server.url}/pet", data=BILLION_LAUGHS, headers=XML, timeout=10)
    assert bomb.status_code == 400


# --- limits and messages -------------------------------------------------------------------

def test_upload_past_the_100th_photo_url_is_409_and_stores_nothing(client, alice):
    client.post("/v2/pet", json={"id": 8, "name": "x", "photoUrls": ["u"] * 99}, headers=alice)

    def upload():
        return client.post("/v2/pet/8/uploadImage", headers=alice,
                           data={"file": (io.BytesIO(PNG), "a.png")},
                           content_type="multipart/form-data")
    assert upload().status_code == 200
    refused = upload()
    assert refused.status_code == 409
    assert "photoUrls" in refused.json["errors"]
    assert len(client.get("/v2/pet/8").json["photoUrls"]) == 100


def test_put_pet_with_a_non_integer_id_is_400_invalid_id(client, alice):
    for bad in ("abc", 1.5, None, [1]):
        response = client.put("/v2/pet", json={"id": bad, "name": "x", "photoUrls": []},
                              headers=alice)
        assert response.status_code == 400, bad
        assert response.json["message"] == "Invalid ID supplied"


def test_messages_name_paths_and_limits(app, client):
    assert client.get("/v2/no/such/thing").json["message"] == "No operation at /v2/no/such/thing"
    limit = app.config["MAX_CONTENT_LENGTH"]
    too_big = client.post("/v2/user", data=b"x" * (limit + 1),
                          content_type="application/json")
    assert too_big.status_code == 413
    assert str(limit) in too_big.json["message"] and "bytes" in too_big.json["message"]


# --- one stored form: every write path, every read path agrees -----------------------------

def read_everything(url: str) -> dict:
    """What a server says about every pet, through all four read paths, checked to agree."""
    listed = requests.get(f"{url}/pet/findByStatus",
                          params={"status": "available,pending,sold"}, timeout=30).json()
    by_id = {pet["id"]: pet for pet in listed}
    for pet_id, pet in by_id.items():
        assert requests.get(f"{url}/pet/{pet_id}", timeout=10).json() == pet
    counts = collections.Counter(pet.get("status") for pet in listed)
    inventory = requests.get(f"{url}/store/inventory", timeout=10).json()
    assert inventory == {status: counts.get(status, 0)
                         for status in ("available", "pending", "sold")}
    names = {tag.get("name") for pet in listed for tag in pet.get("tags", [])} - {None}
    for name in names:
        tagged = requests.get(f"{url}/pet/findByTags", params={"tags": name}, timeout=10).json()
        assert [pet["id"] for pet in tagged] == sorted(
            pet_id for pet_id, pet in by_id.items()
            if name in [tag.get("name") for tag in pet.get("tags", [])]), name
    return by_id


def run_in_second_process(database_url: str, code: str) -> None:
    environment = {**os.environ, "TIMEKIT_DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_write_path_leaves_one_consistent_pet(live_server, server_database):
    url = live_server.url
    session = http_session(url, "consistency")
    # 1. HTTP
    for n in range(1, 6):
        response = session.post(f"{url}/pet", json={
            "id": 100 + n, "name": f"http {n}", "photoUrls": [], "status": "available",
            "category": {"id": n, "name": "dog"}, "tags": [{"id": n, "name": "http"}]},
            timeout=10)
        assert response.status_code == 200, response.text
    assert len(read_everything(url)) == 5  # the server now caches these lists
    # 2. The CLI's demo loader, in its own process
    result = subprocess.run(
        [sys.executable, "-c", "from timekit_api.cli import main; main()", "load-demo"],
        cwd=ROOT, env={**os.environ, "TIMEKIT_DATABASE_URL": server_database,
                       "TIMEKIT_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    pets = read_everything(url)
    assert pets[10]["name"] == "Rabbit 1" and len(pets) == 15
    # 3. A second process of the service writing through the domain (the ORM)
    run_in_second_process(server_database, """
        from timekit_api import create_app
        from timekit_api.domain import pets
        app = create_app()
        with app.app_context():
            pets.add_pet({"id": 201, "name": "second", "photo_urls": ["p"],
                          "status": "pending", "tags": [{"name": "second"}]}, None)
    """)
    assert read_everything(url)[201]["tags"] == [{"name": "second"}]
    # 4. Bulk Core statements on the database itself, bypassing the service entirely
    engine = sa.create_engine(server_database)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE pets SET status = 'sold' WHERE id > 100"))
        connection.execute(sa.text(
            "UPDATE pets SET tags = '[{\"id\": 9, \"name\": \"bulk\"}]' WHERE id IN (101, 102)"))
        connection.execute(sa.text(
            "INSERT INTO pets (id, name, status, photo_urls, tags, booking_version) "
            "VALUES (301, 'core', 'pending', '[]', '[{\"name\": \"core\"}]', 0)"))
        connection.execute(sa.text("DELETE FROM pets WHERE id = 103"))
    engine.dispose()
    pets = read_everything(url)
    assert {pet_id for pet_id, pet in pets.items() if pet.get("status") == "sold"} == {
        101, 102, 104, 105, 201, 5}
    assert pets[101]["tags"] == [{"id": 9, "name": "bulk"}]
    assert pets[301]["name"] == "core" and 103 not in pets
    bulk = requests.get(f"{url}/pet/findByTags", params={"tags": "bulk"}, timeout=10).json()
    assert [pet["id"] for pet in bulk] == [101, 102]


def test_concurrent_uploads_never_pass_100_photo_urls(live_server):
    """The pet's row is locked before its photoUrls are read: racing uploads add exactly up
    to the limit, the others are 409, none is lost and none is a 5xx."""
    url = live_server.url
    session = http_session(url, "uploader")
    assert session.post(f"{url}/pet", json={"id": 9, "name": "x", "photoUrls": ["u"] * 95},
                        timeout=10).status_code == 200
    headers = dict(session.headers)

    def upload(_):
        return requests.post(f"{url}/pet/9/uploadImage", headers=headers, timeout=60,
                             files={"file": ("a.png", PNG, "image/png")}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(upload, range(8)))
    assert statuses == [200] * 5 + [409] * 3, statuses
    urls = requests.get(f"{url}/pet/9", timeout=10).json()["photoUrls"]
    assert len(urls) == 100 and len(set(urls[95:])) == 5
