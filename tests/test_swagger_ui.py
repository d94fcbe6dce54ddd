"""The Swagger UI page at /v2/docs in a real headless Chromium (Playwright), with no internet.

Every request the page makes to a host other than the test server is aborted and recorded:
the page must render from the assets the service serves itself. It must show the four tags,
sign in through "Authorize" (the ``api_key`` scheme, so the header crosses waitress) and
"Try it out" on a protected operation must answer 200.

Needs Debian's ``chromium`` (``apt-get install chromium``; CI installs it) and the pip
package ``playwright``; never ``playwright install``, which downloads browsers.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

from helpers import http_token

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("TIMEKIT_REQUIRE_CHROMIUM"):  # set by .ci/run
    raise RuntimeError("TIMEKIT_REQUIRE_CHROMIUM is set but chromium is not installed")
playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TAGS = ["Authentication", "Booking", "Store", "User"]


@pytest.fixture
def browser_page(tmp_path):
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS)
        context.set_default_timeout(20_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def test_swagger_ui_renders_offline_signs_in_and_tries_an_operation(live_server, browser_page):
    token = http_token(live_server.url, "doc", "DeLorean")

    page = browser_page
    own_host = urlsplit(live_server.url).netloc
    outside: list[str] = []

    def only_the_service(route):
        url = route.request.url
        if urlsplit(url).netloc == own_host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(live_server.url + "/docs")

    page.wait_for_selector(".swagger-ui .opblock-tag")
    tags = page.locator("h3.opblock-tag").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('data-tag'))")
    assert tags == TAGS

    page.click("button.authorize")
    api_key_box = page.locator(".auth-container").filter(has_text="api_key")
    api_key_box.locator("input").fill(token)
    api_key_box.locator("button.authorize").click()
    page.click("button.btn-done")

    operation = page.locator(".opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/v2/user/{username}"]'))
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator('input[placeholder="username"]').fill("doc")
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert '"username": "doc"' in operation.locator(".live-responses-table").inner_text()
    assert outside == []
