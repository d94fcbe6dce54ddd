"""Embedding: the API mounted under /api in a real host Flask site (timekit_api.embed)."""

from __future__ import annotations

import io
import logging
import os
import sys

import pytest
import requests

from embedded_site import create_site
from helpers import (
    ROOT,
    Api,
    base_config,
    clean_database,
    free_port,
    http_token,
    start_server,
    tiny_png,
)


@pytest.fixture
def site(tmp_path):
    site = create_site(base_config(tmp_path))
    yield site
    clean_database(site.extensions["timekit_api"])


@pytest.fixture
def browser(site):
    return site.test_client()


def sign_in(browser, username="embedder") -> dict:
    """Through the site's test client: the API is under /api/v2 there."""
    return Api(browser, prefix="/api/v2").user(username)


def test_the_sites_own_routes_hooks_and_errors_keep_working(browser):
    assert b"Welcome to Corner Pet Shop" in browser.get("/").data
    about = browser.get("/about")
    assert about.json == {"site": "Corner Pet Shop", "hooked": True}
    assert about.headers["X-Site"] == "corner-pet-shop"
    missing = browser.get("/no-such-page")
    assert missing.status_code == 404
    assert b"No such page in the shop" in missing.data
    # The API is not at the root of the site.
    assert b"No such page in the shop" in browser.get("/v2/store/inventory").data


def test_the_api_answers_under_the_prefix_in_its_own_shape(browser):
    inventory = browser.get("/api/v2/store/inventory")
    assert inventory.status_code == 200
    assert inventory.json == {"available": 0, "pending": 0, "sold": 0}
    missing = browser.get("/api/v2/no-such-route")
    assert missing.status_code == 404
    assert missing.json["type"] == "error"  # the API's error shape, not the site's page
    # The site's hooks and headers stay out of the API, the API's out of the site.
    assert "X-Site" not in inventory.headers
    assert "X-Request-Id" in inventory.headers
    assert "X-Request-Id" not in browser.get("/about").headers
    assert "Access-Control-Allow-Origin" not in browser.get(
        "/about", headers={"Origin": "http://elsewhere.example"}).headers


def test_docs_and_their_assets_carry_the_prefix(browser):
    page = browser.get("/api/v2/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v2/openapi.json" in html
    assert 'src="docs/assets/' in html or "docs/assets/" in html  # relative: under /api/v2/
    asset = browser.get("/api/v2/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 1000
    spec = browser.get("/api/v2/openapi.json").json
    assert spec["servers"] == [{"url": "/api"}]
    assert "/v2/pet" in spec["paths"]


def test_uploaded_image_urls_carry_the_prefix(browser, site):
    headers = sign_in(browser)
    pet = browser.post("/api/v2/pet", json={"name": "Rex", "photoUrls": []}, headers=headers).json
    image = tiny_png(padding=4000)  # larger than the site's own MAX_CONTENT_LENGTH
    assert len(image) > site.config["MAX_CONTENT_LENGTH"]
    response = browser.post(f"/api/v2/pet/{pet['id']}/uploadImage", headers=headers,
                            data={"file": (io.BytesIO(image), "rex.png")},
                            content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    (url,) = browser.get(f"/api/v2/pet/{pet['id']}").json["photoUrls"]
    assert url.startswith(f"/api/v2/pet/{pet['id']}/images/")
    served = browser.get(url)
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.data == image
    # ...while the site keeps its own limit.
    assert browser.post("/echo", data=b"x" * 2000).status_code == 413


def test_neither_configuration_leaks_into_the_other(site):
    api_app = site.extensions["timekit_api"]
    assert api_app is not site
    assert api_app.config.get("SECRET_KEY") != site.config["SECRET_KEY"]
    assert "SITE_NAME" not in api_app.config
    assert api_app.config["MAX_CONTENT_LENGTH"] == 6 * 1024 * 1024
    for name in ("DATABASE_URL", "API_PREFIX", "SQLALCHEMY_DATABASE_URI", "API_TITLE"):
        assert name not in site.config
    assert site.config["MAX_CONTENT_LENGTH"] == 1024
    assert site.config["APPLICATION_ROOT"] == "/"


def test_only_api_requests_reach_the_access_log(browser, caplog):
    caplog.set_level(logging.INFO, logger="timekit_api.access")
    browser.get("/about")
    browser.get("/api/v2/store/inventory")
    lines = [r.getMessage() for r in caplog.records if r.name == "timekit_api.access"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /api/v2/store/inventory 200 ")


def test_mount_needs_a_prefix(tmp_path):
    from flask import Flask

    from timekit_api.embed import mount

    with pytest.raises(ValueError):
        mount(Flask("x"), prefix="/", config=base_config(tmp_path))


def test_embedded_site_through_waitress(server_database):
    port = free_port()
    command = [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}",
               "--call", "embedded_site:create_site"]
    server = start_server(command, server_database, port, prefix="/api/v2",
                          PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), str(ROOT)]))
    try:
        site = f"http://127.0.0.1:{port}"
        assert "Welcome to Corner Pet Shop" in requests.get(site + "/", timeout=10).text
        assert requests.get(site + "/nope", timeout=10).status_code == 404
        assert requests.get(site + "/api/v2/docs/assets/swagger-ui.css", timeout=10).ok
        token = http_token(server.url, "waiter")
        # The seed's api_key header survives waitress in the embedded site too.
        api_key = {"api_key": token}
        pet = requests.post(server.url + "/pet", json={"name": "Rex", "photoUrls": []},
                            headers=api_key, timeout=10).json()
        upload = requests.post(f"{server.url}/pet/{pet['id']}/uploadImage", headers=api_key,
                               files={"file": ("rex.png", tiny_png(), "image/png")}, timeout=10)
        assert upload.status_code == 200, upload.text
        (url,) = requests.get(f"{server.url}/pet/{pet['id']}", timeout=10).json()["photoUrls"]
        assert url.startswith("/api/v2/pet/")
        served = requests.get(site + url, timeout=10)
        assert served.headers["Content-Type"] == "image/png"
        assert served.content == tiny_png()
        deleted = requests.delete(f"{server.url}/pet/{pet['id']}", headers=api_key, timeout=10)
        assert deleted.status_code == 200, deleted.text
    finally:
        server.stop()
