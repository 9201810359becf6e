"""`/dashboard` in a real headless Chromium (Debian's, driven by Playwright): the page loads
with no console error and nothing fetched from outside, every chart shows the figures of a
seeded run, the filters change them, and a screenshot is kept under the test's tmp_path."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from lts_events.auth import Authenticator
from lts_events.contracts.common import Severity
from lts_metrics.audit import facts_of
from lts_metrics.dashboard import dashboard_router
from lts_metrics.queries_release import ReleaseQueries
from lts_metrics.samples import FastTrackStory, TicketStory, downloads_message

from . import release_run
from .conftest import Metrics

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
T0, DAY, HOUR = release_run.T0, release_run.DAY, release_run.HOUR


async def seed(metrics: Metrics) -> None:
    """The release run (tickets 1 high and 2 critical, each triaged in 1 h; releases,
    rollouts, CI) plus ticket 3 (high, triaged in 4 h), a fast-track of ticket 1 whose
    postmortem is overdue, and downloads of two lines."""
    third = TicketStory(ticket_id=3, opened_at=T0, severity=Severity.HIGH, triaged_after=4 * HOUR)
    overdue = FastTrackStory(
        ticket_id=1, approved_at=T0 + 2 * HOUR, audit_closed_after=HOUR, overdue_after=3 * DAY
    )
    for envelope in [*release_run.envelopes(), *third.envelopes(), *overdue.envelopes()]:
        await metrics.audit.record(
            envelope, facts_of(envelope, topic=release_run.topic_of(envelope))
        )
    for offset, (version, count) in enumerate([("1.4.2", 30), ("1.4.3", 70), ("1.3.9", 50)]):
        # day 7: 1.4.3 (day 3) and 1.3.9 (day 7) are their lines' newest published patches
        message = downloads_message("ltsapp", version, count, at=T0 + 7 * DAY, offset=offset)
        await metrics.inbox.on_downloads(message)
    await metrics.settle()


@pytest.fixture
async def dashboard_url(metrics: Metrics) -> AsyncIterator[str]:
    await seed(metrics)
    app = FastAPI()
    app.include_router(
        dashboard_router(
            metrics.queries,
            metrics.adoption,
            Authenticator.from_settings(),
            release=ReleaseQueries(metrics.store.engine, schema=metrics.store.schema),
        )
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # the listening socket exists once `started` is set
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/dashboard"
    server.should_exit = True
    await serving


async def test_the_dashboard_renders_every_chart_with_the_seeded_figures(
    dashboard_url: str, tmp_path: Path
) -> None:
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (`make tools` installs it)")
    from playwright.async_api import Route, async_playwright

    problems: list[str] = []
    outside: list[str] = []

    async def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})  # a laptop
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.route("**/*", only_local)
        response = await page.goto(f"{dashboard_url}?token=dev-analyst", wait_until="load")
        assert response is not None
        assert response.status == 200

        async def tile(name: str) -> tuple[str, str]:
            found = page.locator(f'[data-tile="{name}"]')
            value = await found.locator(".tile-value").inner_text()
            return value, await found.locator(".tile-note").inner_text()

        async def shown(chart: str, label: str) -> str:
            text = page.locator(f'svg[data-chart="{chart}"] text.value[data-label="{label}"]')
            return (await text.text_content() or "").strip()

        everyone = {
            "p50": await shown("durations", "triage p50"),
            "p90": await shown("durations", "triage p90"),
            "bars": await page.locator('svg[data-chart="durations"] rect.bar').count(),
            "sla": await shown("sla", "triage SLA"),
            "critical": await shown("backlog", "critical"),
            "high": await shown("backlog", "high"),
            "1.4": await shown("adoption-latest", "1.4 (1.4.3) download"),
            "1.3": await shown("adoption-latest", "1.3 (1.3.9) download"),
            "overdue": await page.locator('[data-tile="audits-overdue"] .tile-value').inner_text(),
            "listed": await page.locator("table.audits tbody tr.overdue").count(),
            "release all p50": await shown("time-to-release", "all p50"),
            "release 1.4 p50": await shown("time-to-release", "1.4 p50"),
            "rollbacks 1.4": await shown("rollback-rate", "1.4"),
            "rollbacks all": await shown("rollback-rate", "all"),
            "pass 1.3": await shown("pass-rate", "1.3"),
            "pass 1.4": await shown("pass-rate", "1.4"),
            "cfr": await tile("dora-change-failure"),
            "recovery": await tile("dora-recovery"),
            "lead time": await tile("dora-lead-time"),
            "dora lines": await page.locator("table.dora tbody tr").count(),
        }
        frequency = await tile("dora-frequency")
        await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        await page.select_option("select[name=severity]", "high")
        await page.click("button[type=submit]")
        await page.wait_for_load_state("load")
        high_only = await shown("durations", "triage p50")
        filtered_url = page.url
        await browser.close()

    assert problems == []
    assert outside == []
    # 1 h, 1 h, 4 h: percentile_cont 0.5 -> 1 h, 0.9 -> 1 + 0.8 * 3 = 3.4 h
    assert everyone == {
        "p50": "1.0 h",
        "p90": "3.4 h",
        "bars": 3,  # only triage has figures: nothing was planned or approved
        "sla": "100.0%",
        "critical": "1",
        "high": "2",
        "1.4": "70.0%",  # 70 of 100 downloads on 1.4.3
        "1.3": "100.0%",
        "overdue": "1",  # the postmortem; the audit was closed
        "listed": 1,
        # the release run's figures (test_release_metrics.py works them out)
        "release all p50": "3.0 d",
        "release 1.4 p50": "2.5 d",
        "rollbacks 1.4": "33.3%",
        "rollbacks all": "50.0%",
        "pass 1.3": "80.0%",  # 4 passed, the failed lint job
        "pass 1.4": "95.0%",
        "cfr": ("50.0%", "low"),
        "recovery": ("30 min", "elite"),
        "lead time": ("2.0 d", "high"),
        "dora lines": 2,
    }
    assert frequency[0].endswith("/ week")  # 4 releases over the days since the first one
    assert high_only == "2.5 h"  # tickets 1 (1 h) and 3 (4 h)
    assert "token=dev-analyst" in filtered_url  # the form carries the token on
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
