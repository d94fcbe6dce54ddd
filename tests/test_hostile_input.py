"""Hostile input through the real waitress server: each gets a 4xx in the contract's error
shape, or a correct 2xx where the input is legitimately data; and the server's memory stays
bounded under a burst of large bodies."""

from __future__ import annotations

import io

import pytest
import requests

from helpers import OWN_SQLITE_FILE, PNG, TEST_DATABASE_URL, http_session, waitress_on_sqlite

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(bool(TEST_DATABASE_URL), reason=OWN_SQLITE_FILE)]

MB = 1024 * 1024


def assert_error(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    body = response.json()
    assert body["code"] == response.status_code and body["type"] == "error", body
    assert isinstance(body["message"], str) and "Traceback" not in response.text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with waitress_on_sqlite(tmp_path_factory.mktemp("hostile")) as live:
        yield live


@pytest.fixture
def session(server):
    # The server is shared by the module: from the second test on, mallory already exists.
    return http_session(server.url, "mallory", exist_ok=True)


@pytest.fixture
def pet(server, session):
    return session.post(server.url + "/pet", json={"name": "p", "photoUrls": []},
                        timeout=10).json()


def post_json(session, url, raw: bytes):
    return session.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=30)


class TestOversized:
    @pytest.mark.parametrize(("size", "status"), [
        (7 * MB, 413),  # the JSON body is over the limit
        (MB, 405),  # within it, but the name is too long: invalid input
    ], ids=["body_over_the_limit_is_413", "long_string_within_body_limit_is_invalid_input"])
    def test_long_json_string(self, server, session, size, status):
        raw = b'{"name": "' + b"a" * size + b'", "photoUrls": []}'
        assert_error(post_json(session, server.url + "/pet", raw), status)

    @pytest.mark.parametrize(("padding", "part"), [
        (5 * MB + 10, ("image/png",)),  # over the image limit
        (8 * MB, ()),  # over the body limit
    ], ids=["image_limit", "body_limit"])
    def test_upload_over_the_limit_is_413(self, server, session, pet, padding, part):
        big = PNG + b"\x00" * padding
        response = session.post(f"{server.url}/pet/{pet['id']}/uploadImage", timeout=30,
                                files={"file": ("big.png", big, *part)})
        assert_error(response, 413)

    def test_huge_query_string_is_rejected(self, server):
        response = requests.get(server.url + "/pet/findByTags",
                                params={"tags": ",".join(["t"] * 20000)}, timeout=10)
        assert response.status_code in (400, 414, 431), response.status_code


class TestShapes:
    @pytest.mark.parametrize("raw", [
        b"[" * 5000 + b"]" * 5000,
        b'{"name": "x", "photoUrls": [], "category": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
    ])
    def test_deeply_nested_json_is_400(self, server, session, raw):
        assert_error(post_json(session, server.url + "/pet", raw), 400)

    def test_moderately_nested_json_is_invalid_input(self, server, session):
        raw = b'{"name": "x", "photoUrls": [], "category": ' + b'{"a":' * 500 + b"1" + \
            b"}" * 501
        assert_error(post_json(session, server.url + "/pet", raw), 405)

    @pytest.mark.parametrize("value", [b"99999999999999999999999999", b"1e400", b"-1e400",
                                       b"9223372036854775808", b"1" * 5000, b"NaN"])
    def test_huge_integers_are_rejected(self, server, session, value):
        raw = b'{"id": ' + value + b', "name": "x", "photoUrls": []}'
        assert_error(post_json(session, server.url + "/pet", raw), 400, 405)

    @pytest.mark.parametrize("path", ["/pet/99999999999999999999999", "/pet/-1", "/pet/1e3",
                                      "/store/order/9223372036854775808", "/pet/%00"])
    def test_huge_or_odd_path_ids_are_400(self, server, session, path):
        assert_error(session.get(server.url + path, timeout=10), 400)

    @pytest.mark.parametrize("body", [
        {"name": ["x"], "photoUrls": []}, {"name": "x", "photoUrls": "u"},
        {"name": "x", "photoUrls": [], "id": "1"}, {"name": "x", "photoUrls": [], "tags": {}},
        {"name": "x", "photoUrls": [], "status": 1}, {"name": None, "photoUrls": []},
    ])
    def test_wrong_types_are_invalid_input(self, server, session, body):
        assert_error(session.post(server.url + "/pet", json=body, timeout=10), 405)

    @pytest.mark.parametrize("raw", [[1, 2], "x", 3, None])
    def test_non_object_bodies_are_rejected(self, server, session, raw):
        assert_error(session.post(server.url + "/store/order", json=raw, timeout=10), 400)


class TestEncoding:
    def test_invalid_utf8_json_is_400(self, server, session):
        assert_error(post_json(session, server.url + "/pet",
                               b'{"name": "\xff\xfe", "photoUrls": []}'), 400)

    def test_invalid_utf8_form_field_is_rejected(self, server, session, pet):
        response = session.post(f"{server.url}/pet/{pet['id']}", data=b"name=%ff%fe",
                                headers={"Content-Type": "application/x-www-form-urlencoded"},
                                timeout=10)
        assert response.status_code < 500
        if response.status_code >= 400:
            assert_error(response, 400, 405)

    @pytest.mark.parametrize("path", ["/user/%ff%fe", "/pet/findByTags?tags=%ff",
                                      "/user/login?username=%ff&password=%fe"])
    def test_invalid_utf8_in_urls_is_not_a_crash(self, server, session, path):
        response = session.get(server.url + path, timeout=10)
        assert response.status_code < 500
        if response.status_code >= 400:
            assert_error(response, 400, 401, 403, 404)

    def test_lone_surrogate_escape_in_json_is_handled(self, server, session):
        response = post_json(session, server.url + "/pet",
                             b'{"name": "\\ud800", "photoUrls": []}')
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert_error(response, 400, 405)


class TestNames:
    @pytest.mark.parametrize("filename", ["../../../../etc/passwd.png", "..\\..\\win.ini",
                                          "/etc/passwd", "a\x00.png", "%2e%2e%2fx.png"])
    def test_path_traversal_in_file_names_stores_nothing_on_disk(self, server, session, pet,
                                                                 filename):
        response = session.post(f"{server.url}/pet/{pet['id']}/uploadImage", timeout=10,
                                files={"file": (filename, io.BytesIO(PNG), "image/png")})
        assert response.status_code == 200, response.text
        url = session.get(f"{server.url}/pet/{pet['id']}", timeout=10).json()["photoUrls"][-1]
        assert ".." not in url and "passwd" not in url and "win.ini" not in url
        image = requests.get(server.url.removesuffix("/v2") + url, timeout=10)
        assert image.content == PNG

    @pytest.mark.parametrize("path", ["/docs/assets/../../../../etc/passwd",
                                      "/docs/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
                                      "/docs/assets/%2e%2e/%2e%2e/setup.cfg"])
    def test_path_traversal_in_asset_urls_is_404(self, server, path):
        response = requests.get(server.url + path, timeout=10)
        assert response.status_code in (400, 404), response.status_code
        assert "root:" not in response.text

    @pytest.mark.parametrize("name", ["Robert'); DROP TABLE pets;--", "' OR '1'='1",
                                      "1; SELECT * FROM users", "%_\\"])
    def test_sql_looking_strings_are_stored_verbatim(self, server, session, name):
        created = session.post(server.url + "/pet", timeout=10, json={
            "name": name, "photoUrls": [name], "tags": [{"name": name}]})
        assert created.status_code == 200, created.text
        assert requests.get(f"{server.url}/pet/{created.json()['id']}",
                            timeout=10).json()["name"] == name
        found = requests.get(server.url + "/pet/findByTags", params={"tags": name}, timeout=10)
        assert [p["id"] for p in found.json()] == [created.json()["id"]]

    @pytest.mark.parametrize("login", ["admin' --", "' OR 1=1 --", "mallory' --"])
    def test_sql_looking_logins_are_refused(self, server, login):
        response = requests.get(server.url + "/user/login",
                                params={"username": login, "password": "' OR '1'='1"},
                                timeout=10)
        assert_error(response, 400)
        response = requests.post(server.url + "/auth", timeout=10,
                                 json={"email": login, "password": "' OR '1'='1"})
        assert_error(response, 401)

    def test_sql_looking_tag_filter_matches_nothing(self, server, pet):
        response = requests.get(server.url + "/pet/findByTags",
                                params={"tags": "x' OR '1'='1"}, timeout=10)
        assert response.status_code == 200 and response.json() == []


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_memory_stays_bounded_under_a_burst_of_large_bodies(server, session, pet):
    pid = server.process.pid
    for _ in range(3):  # warm up: first large requests grow the allocator once
        post_json(session, server.url + "/pet", b'{"name": "' + b"a" * (5 * MB) + b'"}')
    before = rss_kib(pid)
    near_limit = b'{"name": "' + b"a" * (5 * MB) + b'", "photoUrls": []}'
    over_limit = b'{"name": "' + b"a" * (7 * MB) + b'", "photoUrls": []}'
    image = PNG + b"\x00" * (4 * MB)
    for i in range(40):
        if i % 4 == 0:
            assert_error(post_json(session, server.url + "/pet", over_limit), 413)
        elif i % 4 == 1:
            response = session.post(f"{server.url}/pet/{pet['id']}/uploadImage", timeout=30,
                                    files={"file": ("x.png", image, "image/png")})
            assert response.status_code == 200
        else:
            assert_error(post_json(session, server.url + "/pet", near_limit), 405)
    after = rss_kib(pid)
    print(f"waitress RSS before {before} KiB, after {after} KiB")
    # ~200 MB went through; a leak of the bodies would show as hundreds of MB.
    assert after - before < 120 * 1024, (before, after)
