"""End to end over the real stack: reports, an Alertmanager webhook and an OSV record go into
intake (the record, about another package, opens no ticket); triage receives the tickets and
they get triaged (by a person, or by automation where the evidence and a known version allow);
one ticket goes through its backport plan and approvals. The metrics service, fed only by Kafka,
must report the figures computed here independently from the other services' own views, and its
timeline must hold every event the other services recorded for the ticket."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from lts_devtools.demo import Workflow
from lts_events.contracts.anchors import ChainAnchored
from lts_metrics.percentiles import percentile_cont

from .conftest import ANCHORING, Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FIXTURES = Path(__file__).resolve().parents[2] / "services" / "intake" / "tests" / "fixtures"
T = TypeVar("T")
WAIT = 120.0


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer dev-{role}"}


REPORTS = [
    {
        "title": "Cookie parser crashes on an empty SameSite attribute",
        "description": "Workers crash on a crafted cookie: remote denial of service.",
        "kind": "security",
        "affected_versions": ["1.4.2", "1.3.8"],
        "severity": "high",
        "traceback": 'Traceback (most recent call last):\n  File "app/cookies.py", line 8, '
        "in parse\n    x = P[a]\nKeyError: ''\n",
    },
    {
        "title": "Export drops the last row of large reports",
        "description": "CSV export loses its last row above 10,000 rows.",
        "affected_versions": ["1.4.1"],
        "severity": "medium",
    },
    {
        "title": "Typo in the settings page",
        "description": "'Recieve' should read 'Receive'.",
        "affected_versions": ["1.4.2"],
        "severity": "low",
    },
]

CHECKLISTS = {
    "high": {"effort": "S", "security": True, "public_exploit": False},
    "medium": {"effort": "M", "security": False, "public_exploit": False},
    "low": {"effort": "S", "security": False, "public_exploit": False},
    "critical": {"effort": "S", "security": False, "public_exploit": False},
}


async def until(what: str, probe: Callable[[], Awaitable[T | None]], stack: Stack) -> T:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{stack.tail()}")


class Driver:
    def __init__(self, http: httpx.AsyncClient, stack: Stack) -> None:
        self.http, self.stack, self.url = http, stack, stack.urls

    async def tickets_in(self) -> list[int]:
        ids = []
        for report in REPORTS:
            r = await self.http.post(
                f"{self.url['intake']}/reports", json=report, headers=auth("requester")
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["ticket_id"])
        alerts = json.loads((FIXTURES / "alertmanager_firing.json").read_text())
        r = await self.http.post(
            f"{self.url['intake']}/webhooks/alertmanager",
            json=alerts,
            headers={"Authorization": "Bearer dev-alert-webhook-token"},
        )
        assert r.status_code == 200, r.text
        ids += [x["ticket_id"] for x in r.json()["results"] if x["outcome"] == "opened"]
        osv = (FIXTURES / "GHSA-mr95-9rr4-668f.json").read_text()
        r = await self.http.post(
            f"{self.url['intake']}/feeds/osv",
            content=osv,
            headers={**auth("security_reviewer"), "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        # an advisory about another package (akka) is not the product's: no ticket
        assert [x["outcome"] for x in r.json()["results"]] == ["ignored"]
        return ids

    async def triage_view(self, ticket_id: int) -> dict[str, Any] | None:
        r = await self.http.get(
            f"{self.url['triage']}/tickets/{ticket_id}/triage", headers=auth("analyst")
        )
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        view: dict[str, Any] = r.json()
        return view

    async def triage(self, ticket_id: int, severity: str) -> dict[str, Any]:
        """Triage by a person unless automation already did; the triage view afterwards."""
        view = await until(
            f"triage of {ticket_id}", lambda: self.triage_view(ticket_id), self.stack
        )
        if view["status"] not in ("awaiting_triage", "needs_versions"):
            return view
        body = {
            "severity": severity,
            "reproduced": True,
            "affected_versions": ["1.4.2", "1.3.8"],
            "workaround": False,
            "api_change": False,
            "comment": f"triaged {severity} in the end-to-end test",
            **CHECKLISTS[severity],
        }
        r = await self.http.post(
            f"{self.url['triage']}/tickets/{ticket_id}/triage",
            json=body,
            headers=auth("triage_engineer"),
        )
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    async def approve_all(self, ticket_id: int) -> dict[str, Any]:
        async def planned() -> dict[str, Any] | None:
            view = await self.triage_view(ticket_id)
            return view if view and view.get("plan") else None

        view = await until(f"plan of {ticket_id}", planned, self.stack)
        for role in view["missing_approvals"]:
            r = await self.http.post(
                f"{self.url['triage']}/tickets/{ticket_id}/approvals",
                json={
                    "role": role,
                    "comment": "signed off in the end-to-end test",
                    "revision": view["plan"]["revision"],
                },
                headers=auth(role),
            )
            assert r.status_code in (200, 201), r.text
        return await until(
            f"approval of {ticket_id}",
            lambda: self._approved(ticket_id),
            self.stack,
        )

    async def _approved(self, ticket_id: int) -> dict[str, Any] | None:
        view = await self.triage_view(ticket_id)
        return view if view and view["status"] == "approved" else None

    async def opened_at(self, ticket_id: int) -> datetime:
        r = await self.http.get(
            f"{self.url['intake']}/tickets/{ticket_id}", headers=auth("analyst")
        )
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["opened_at"])

    async def metrics(self, path: str) -> Any:
        r = await self.http.get(f"{self.url['metrics']}{path}", headers=auth("analyst"))
        assert r.status_code == 200, r.text
        return r.json()


async def recorded_event_ids(stack: Stack, ticket_id: int) -> set[str]:
    """What intake and triage stored for the ticket, read from their own stores."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id::text FROM intake.events WHERE stream_id = $1 UNION ALL "
            "SELECT event_id::text FROM triage.events WHERE stream_id = $1",
            f"ticket-{ticket_id}",
        )
    finally:
        await conn.close()
    return {r[0] for r in rows}


async def test_metrics_report_the_known_figures_and_every_transition(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        driver = Driver(http, stack)
        ticket_ids = await driver.tickets_in()
        assert len(ticket_ids) == 5  # 3 reports, 2 grouped alerts (no version: a person triages)

        severities = ["high", "medium", "low", "critical", "critical"]
        views = {t: await driver.triage(t, s) for t, s in zip(ticket_ids, severities, strict=True)}
        approved = await driver.approve_all(ticket_ids[0])

        opened = {t: await driver.opened_at(t) for t in ticket_ids}
        seconds = {
            t: (datetime.fromisoformat(v["triaged_at"]) - opened[t]).total_seconds()
            for t, v in views.items()
        }
        in_sla = [
            datetime.fromisoformat(v["triaged_at"]) <= datetime.fromisoformat(v["triage_deadline"])
            for v in views.values()
        ]

        async def all_projected() -> dict[str, Any] | None:
            stats = await driver.metrics("/metrics/time-to-triage")
            approval = await driver.metrics("/metrics/time-to-approval")
            return stats if stats["count"] == len(ticket_ids) and approval["count"] == 1 else None

        stats = await until("the metrics to count every triage", all_projected, stack)

    values = list(seconds.values())
    assert stats["p50"] == pytest.approx(percentile_cont(values, 0.5), abs=1e-3)
    assert stats["p90"] == pytest.approx(percentile_cont(values, 0.9), abs=1e-3)
    assert stats["p95"] == pytest.approx(percentile_cont(values, 0.95), abs=1e-3)
    assert stats["max"] == pytest.approx(max(values), abs=1e-3)
    assert stats["sla_compliance_pct"] == pytest.approx(100.0 * sum(in_sla) / len(in_sla))

    async with httpx.AsyncClient(timeout=30) as http:
        driver = Driver(http, stack)
        by_severity = {
            s: (await driver.metrics(f"/metrics/time-to-triage?severity={s}"))["count"]
            for s in ("critical", "high", "medium", "low")
        }
        expected = {s: 0 for s in by_severity}
        for view in views.values():
            expected[view["severity"]] += 1
        assert by_severity == expected

        first = ticket_ids[0]
        recorded = await recorded_event_ids(stack, first)

        async def complete_timeline() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = await driver.metrics(f"/tickets/{first}/timeline")
            return items if {i["event_id"] for i in items} == recorded else None

        timeline = await until("the complete timeline", complete_timeline, stack)

    types = [item["event_type"] for item in timeline]
    assert types[0] == "lts.intake.ticket_opened"
    assert types.index("lts.triage.ticket_triaged") < types.index("lts.triage.backport_planned")
    assert types.index("lts.triage.backport_planned") < types.index("lts.triage.plan_approved")
    assert {i["source_service"] for i in timeline} == {"intake", "triage"}
    times = [item["occurred_at"] for item in timeline]
    assert times == sorted(times)
    approvals = [i for i in timeline if i["event_type"] == "lts.triage.approval_recorded"]
    assert {(a["actor_id"], a["actor_role"]) for a in approvals} == {
        (f"dev-{a['role']}", a["role"]) for a in approved["approvals"]
    }
    triaged = next(i for i in timeline if i["event_type"] == "lts.triage.ticket_triaged")
    assert triaged["actor_id"] == views[first]["triaged_by"]
    assert triaged["actor_role"] in ("triage_engineer", "automation")


async def test_the_demo_drives_the_example_workflow_to_an_approved_plan(stack: Stack) -> None:
    workflow = Workflow(stack.urls["intake"], stack.urls["triage"], stack.urls["metrics"], WAIT)

    ticket_id = await workflow.run()

    async with httpx.AsyncClient(timeout=30) as http:
        driver = Driver(http, stack)
        view = await driver.triage_view(ticket_id)
        timeline = await driver.metrics(f"/tickets/{ticket_id}/timeline")
    assert view is not None
    assert view["status"] == "approved"
    assert view["severity"] == "high"
    assert set(view["plan"]["target_branches"]) == {"release-lts/v1.4", "release-lts/v1.3"}
    assert view["plan"]["security_review_required"] is True
    signed = {i["actor_role"] for i in timeline if i["event_type"].endswith("approval_recorded")}
    assert {"code_reviewer", "qa", "release_manager", "security_reviewer"} <= signed


async def test_every_stored_event_is_audited_and_every_store_holds_its_anchors(
    stack: Stack,
) -> None:
    async def copies_of_anchors() -> set[str] | None:
        conn = await asyncpg.connect(stack.database_url)
        try:
            rows = await conn.fetch(
                "SELECT DISTINCT data->>'store' FROM metrics.events WHERE type = $1",
                ChainAnchored.type,
            )
        finally:
            await conn.close()
        found = {r[0] for r in rows}
        return found if found >= {"intake", "triage"} else None

    await until("the audit log to hold intake's and triage's anchors", copies_of_anchors, stack)

    reconciled = await asyncio.to_thread(
        lts, stack, "audit", "reconcile", "--namespace", stack.namespace or "", "--json"
    )
    verified = {
        schema: await asyncio.to_thread(lts, stack, "store", "verify", "--schema", schema)
        for schema in ("intake", "triage", "metrics")
    }

    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    reports = {r["service"]: r for r in json.loads(reconciled.stdout)}
    assert set(reports) == {"intake", "triage"}
    for report in reports.values():
        assert report["stored"] == report["matched"] > 0
        assert (report["missing"], report["phantoms"]) == ([], [])
    for schema, done in verified.items():
        assert done.returncode == 0, f"{schema}: {done.stdout}{done.stderr}"
        assert ": holds" in done.stdout


def lts(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The `lts` command as an operator runs it against this stack."""
    env = {
        **os.environ,
        **ANCHORING,
        "DATABASE_URL": stack.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers,
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "lts"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
