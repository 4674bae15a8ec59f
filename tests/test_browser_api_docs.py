"""The API documentation page in a real headless Chromium: Swagger UI draws every endpoint from this
site alone, under the site's Content-Security-Policy, and passes the axe check.

Its screenshot is kept in $MONITOR_SCREENSHOTS when set (tests/browser/__init__.py).
"""

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser import screenshot, serious_violations
from tests.test_browser import browser, page, plain_http  # noqa: F401 (fixtures: the same Chromium set-up)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_api_documentation_page_draws_every_endpoint_with_no_request_to_another_host(
    plain_http, live_server, page  # noqa: F811
):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    # Swagger UI has fetched the schema and drawn an operation per endpoint.
    page.wait_for_selector("#swagger-ui .opblock-summary-path", timeout=20000)
    paths = page.locator("#swagger-ui .opblock-summary-path").all_inner_texts()
    assert any("/api/agreements/{agreement}/commitments/" in p for p in paths)
    assert any("/api/reports/" in p for p in paths)
    assert "Agreement compliance monitor API" in page.locator("#swagger-ui .info .title").inner_text()
    # Every request, the scripts and styles included, went to this site (the CSP check is the `page` fixture's).
    origin = urlsplit(live_server.url)[:2]
    others = [url for url in requested if urlsplit(url)[:2] != origin and not url.startswith("data:")]
    assert others == []
    assert any(url.endswith("/api/schema/") for url in requested)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in url for url in requested)
    screenshot(page, "api-docs")

    # Swagger UI's colours are darkened by monitor/api/static/api/docs.css so that this passes.
    assert serious_violations(Axe().run(page)) == []
