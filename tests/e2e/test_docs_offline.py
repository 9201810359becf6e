"""`/docs` works without internet: a real service's Swagger UI, opened in headless Chromium (the
system's, driven by Playwright), renders every operation with no request leaving localhost."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from harness.stack import SERVICES
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (`make tools` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def operations_of(openapi: dict[str, object]) -> int:
    paths = openapi["paths"]
    assert isinstance(paths, dict)
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return sum(1 for item in paths.values() for method in item if method in methods)


@pytest.mark.parametrize("service", SERVICES)  # every service of the e2e stack
def test_swagger_ui_renders_every_operation_with_nothing_fetched_from_outside(
    stack: Stack, browser: object, service: str
) -> None:
    from playwright.sync_api import Browser, Route

    assert isinstance(browser, Browser)
    url = stack.urls[service]
    expected = operations_of(httpx.get(f"{url}/openapi.json").json())
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page = browser.new_page()
    try:
        page.route("**/*", only_local)
        page.goto(f"{url}/docs", wait_until="load")  # the page's scripts and styles are in
        assert outside == [], "the page loads assets from outside"
        page.wait_for_selector(".opblock", timeout=15_000)
        rendered = page.locator(".opblock").count()
        styled = page.evaluate(
            "() => [...document.styleSheets].some("
            "s => (s.href || '').endsWith('swagger-ui.css') && s.cssRules.length > 100)"
        )
        title = page.locator(".info .title").inner_text()
    finally:
        page.close()

    assert outside == []
    assert expected > 0
    assert rendered == expected
    assert styled
    assert title.startswith("LTS Flow")
