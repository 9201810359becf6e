"""`lts demo`: the process doc's "Example minimal workflow" through the running services, over
HTTP, as the people of the process would do it (dev tokens `dev-<role>`):

issue opened with the template (intake `POST /reports`) -> enriched -> triaged high by a triage
engineer (triage `POST /tickets/{id}/triage`) -> backport plan for `release-lts/v1.4` and
`release-lts/v1.3` with security review -> approvals by code reviewer, QA, release manager and
security reviewer (`POST /tickets/{id}/approvals`) -> when the release and comms services run
(their URLs given, as `lts dev` does): CI, sign-offs, a candidate, sealed, published, the canary
rolled back, and the documents comms produced and where they went (`demo_release.py`) -> the
ticket's audit timeline and the time-to-triage figures from the metrics service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import typer
from lts_devtools.demo_http import StepFailed, check, console, token, wait_for
from lts_devtools.demo_release import ReleaseLeg
from lts_events.settings import DEFAULT_PORTS
from rich.table import Table

__all__ = ["StepFailed", "Workflow", "demo"]

REPORT: dict[str, Any] = {
    "title": "Session cookie parser crashes on empty SameSite attribute",
    "description": "Requests carrying `SameSite=` crash the worker with a KeyError; an "
    "attacker can take workers down with a crafted cookie.",
    "kind": "security",
    "reproduction_steps": "curl -H 'Cookie: session=abc; SameSite=' http://localhost:8000/",
    "traceback": (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/lib/python3.11/site-packages/ltsapp/http/cookies.py", line 88, '
        "in parse\n    policy = POLICIES[attrs['samesite']]\n"
        "KeyError: ''\n"
    ),
    "environment": {"os": "linux", "deployment": "kubernetes"},
    "python_version": "3.11.9",
    "package_versions": {"ltsapp": "1.4.2"},
    "affected_versions": ["1.4.2", "1.3.8"],
    "severity": "high",
    "test_case": "test_cookie_parser_accepts_empty_samesite",
}

CHECKLIST: dict[str, Any] = {
    "severity": "high",
    "reproduced": True,
    "affected_versions": ["1.4.2", "1.3.8"],
    "public_exploit": False,
    "workaround": False,
    "api_change": False,
    "effort": "S",
    "security": True,
    "comment": "Reproduced on 1.4.2 and 1.3.8; remote crash of workers: high, security review",
}


def _url(service: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[service]}"


def demo(
    intake: Annotated[str, typer.Option(help="Intake base URL", envvar="LTS_INTAKE_URL")] = _url(
        "intake"
    ),
    triage: Annotated[str, typer.Option(help="Triage base URL", envvar="LTS_TRIAGE_URL")] = _url(
        "triage"
    ),
    metrics: Annotated[str, typer.Option(help="Metrics base URL", envvar="LTS_METRICS_URL")] = _url(
        "metrics"
    ),
    release: Annotated[
        str | None,
        typer.Option(help="Release base URL: continue through release", envvar="LTS_RELEASE_URL"),
    ] = None,
    comms: Annotated[
        str | None,
        typer.Option(help="Comms base URL: show documents", envvar="LTS_COMMS_URL"),
    ] = None,
    github_secret: Annotated[
        str,
        typer.Option(
            help="The release service's GitHub webhook secret",
            envvar="LTS_RELEASE_CI_GITHUB_WEBHOOK_SECRET",
        ),
    ] = "dev-release-github-webhook-secret",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each step")] = 60.0,
) -> None:
    """Drive the example minimal workflow through the running services (with release and comms:
    on to publication, canary, rollback and the documents delivered) and print the ticket's
    audit timeline and the time-to-triage figures."""
    try:
        workflow = Workflow(
            intake, triage, metrics, timeout, release=release, comms=comms, secret=github_secret
        )
        asyncio.run(workflow.run())
    except (StepFailed, httpx.HTTPError) as error:
        console.print(f"[red]demo stopped: {error}[/red]")
        raise typer.Exit(1) from error


class Workflow:
    def __init__(
        self,
        intake: str,
        triage: str,
        metrics: str,
        timeout: float,
        *,
        release: str | None = None,
        comms: str | None = None,
        secret: str = "dev-release-github-webhook-secret",
    ) -> None:
        self.intake, self.triage, self.metrics = intake, triage, metrics
        self.release, self.comms, self.secret = release, comms, secret
        self.timeout = timeout
        self.released: str | None = None
        """The version the release leg published (None: not run)."""

    async def run(self) -> int:
        async with httpx.AsyncClient(timeout=10.0) as http:
            self.http = http
            ticket_id = await self.open_ticket()
            await self.wait_for(f"triage receives ticket {ticket_id}", self._received(ticket_id))
            view = await self.triage_high(ticket_id)
            view = await self.wait_for("the backport plan", self._planned(ticket_id))
            await self.approve(ticket_id, view)
            await self.wait_for("the plan approval", self._approved(ticket_id))
            if self.release and self.comms:
                leg = ReleaseLeg(http, self.release, self.comms, self.secret, self.timeout)
                self.released = await leg.run(ticket_id, view["plan"])
            await self.wait_for("the audit timeline", self._timeline_complete(ticket_id))
            await self.show(ticket_id)
            return ticket_id

    async def open_ticket(self) -> int:
        response = await self.http.post(
            f"{self.intake}/reports", json=REPORT, headers=token("requester")
        )
        check(response, "intake POST /reports")
        ticket_id = int(response.json()["ticket_id"])
        console.print(f"[bold]1.[/bold] issue opened with the template: ticket [bold]{ticket_id}")
        return ticket_id

    async def triage_high(self, ticket_id: int) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.triage}/tickets/{ticket_id}/triage",
            json=CHECKLIST,
            headers=token("triage_engineer"),
        )
        check(response, "triage POST /tickets/{id}/triage")
        console.print("[bold]2.[/bold] triage engineer marked severity [bold]high[/bold], security")
        view: dict[str, Any] = response.json()
        return view

    async def approve(self, ticket_id: int, view: dict[str, Any]) -> None:
        plan = view["plan"]
        console.print(
            f"[bold]3.[/bold] plan r{plan['revision']}: {', '.join(plan['target_branches'])}"
            f" via {', '.join(plan['patch_branches'])};"
            f" security review: {plan['security_review_required']}"
        )
        for role in view["missing_approvals"]:
            response = await self.http.post(
                f"{self.triage}/tickets/{ticket_id}/approvals",
                json={"role": role, "comment": f"{role} signs off (demo)"},
                # the plan revision approved, as the plan's ETag (GET /tickets/{id}/plan)
                headers={**token(role), "If-Match": f'"{plan["revision"]}"'},
            )
            check(response, f"approval by {role}")
            console.print(f"   approval recorded: [bold]{role}[/bold]")

    async def show(self, ticket_id: int) -> None:
        timeline = (await self._get(f"{self.metrics}/tickets/{ticket_id}/timeline")).json()
        table = Table(title=f"Audit timeline of ticket {ticket_id}")
        for column in ("when", "service", "event", "who", "why"):
            table.add_column(column)
        for item in timeline:
            table.add_row(
                item["occurred_at"][11:23],
                item["source_service"],
                item["summary"][:70],
                f"{item['actor_id']} ({item['actor_role']})",
                (item["reason"] or "")[:60],
            )
        console.print(table)
        stats = (await self._get(f"{self.metrics}/metrics/time-to-triage")).json()
        console.print(
            "[bold]time-to-triage[/bold] over all tickets:"
            f" count={stats['count']} p50={_s(stats['p50'])} p90={_s(stats['p90'])}"
            f" p95={_s(stats['p95'])} max={_s(stats['max'])}"
            f" SLA compliance={_pct(stats['sla_compliance_pct'])}"
        )

    # --- waiting ---------------------------------------------------------------------------

    async def wait_for(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        return await wait_for(what, probe, self.timeout)

    def _received(self, ticket_id: int) -> Callable[[], Awaitable[Any]]:
        return lambda: self._triage_view(ticket_id, lambda v: True)

    def _planned(self, ticket_id: int) -> Callable[[], Awaitable[Any]]:
        return lambda: self._triage_view(ticket_id, lambda v: v.get("plan") is not None)

    def _approved(self, ticket_id: int) -> Callable[[], Awaitable[Any]]:
        return lambda: self._triage_view(ticket_id, lambda v: v.get("status") == "approved")

    async def _triage_view(
        self, ticket_id: int, ready: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        response = await self.http.get(
            f"{self.triage}/tickets/{ticket_id}/triage", headers=token("analyst")
        )
        if response.status_code == 404:
            return None
        check(response, "triage GET /tickets/{id}/triage")
        view: dict[str, Any] = response.json()
        return view if ready(view) else None

    def _timeline_complete(self, ticket_id: int) -> Callable[[], Awaitable[Any]]:
        async def probe() -> Any:
            response = await self.http.get(
                f"{self.metrics}/tickets/{ticket_id}/timeline", headers=token("analyst")
            )
            if response.status_code == 404:
                return None
            check(response, "metrics GET /tickets/{id}/timeline")
            types = {item["event_type"] for item in response.json()}
            return True if "lts.triage.plan_approved" in types else None

        return probe

    async def _get(self, url: str) -> httpx.Response:
        response = await self.http.get(url, headers=token("analyst"))
        check(response, f"GET {url}")
        return response


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"
