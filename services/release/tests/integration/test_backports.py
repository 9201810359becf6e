"""Backports on real Kafka and PostgreSQL: triage's approved plan (on the triage topic) opens
one backport per line; CI results recorded on the patch branches come back on the service's
own topic and pass the gates; QA and security sign over HTTP; the backport is ready. A newer
commit re-opens it; a closed ticket closes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lts_events.contracts.release.backports import backport_stream
from lts_events.contracts.triage import TicketClosed

from .conftest import Running
from .release_flows import SECURITY_GATES, backport, bearer, record_ci
from .triage_feed import approved_plan, publish

pytestmark = pytest.mark.integration


async def test_an_approved_plan_becomes_ready_backports_after_ci_and_sign_offs(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service, at = release_service, datetime.now(UTC)
    await publish(kafka, service.triage_topic, approved_plan(ticket_id, at), at=at)
    opened = await backport(service, ticket_id, "1.4", until=lambda v: v["status"] == "open")
    assert opened["missing"][0] == "no CI result on the patch branch yet"
    head = "a1b2c3d" * 5 + "a1b2c"

    await record_ci(service, f"lts/v1.4/issue-{ticket_id}", head, SECURITY_GATES)
    green = await backport(
        service,
        ticket_id,
        "1.4",
        until=lambda v: (
            v["head_commit"] == head and all(g["status"] == "passed" for g in v["gates"])
        ),
    )
    refused = await service.client.post(
        f"/backports/{ticket_id}/1.4/sign-offs", json={"kind": "qa"}, headers=bearer("dev-sre")
    )
    qa = await service.client.post(
        f"/backports/{ticket_id}/1.4/sign-offs", json={"kind": "qa"}, headers=bearer("dev-qa")
    )
    security = await service.client.post(
        f"/backports/{ticket_id}/1.4/sign-offs",
        json={"kind": "security", "commit": head, "comment": "fix reviewed"},
        headers=bearer("dev-security_reviewer"),
    )

    assert [g["gate"] for g in green["gates"]] == list(SECURITY_GATES)
    assert green["gates"][1]["evidence"]["tests"]["passed"] == 12
    assert green["missing"] == [f"QA sign-off of {head}", f"security sign-off of {head}"]
    assert refused.status_code == 403
    assert (qa.status_code, security.status_code) == (201, 201)
    assert security.json()["status"] == "ready"
    assert security.json()["missing"] == []
    history = await service.store.read_stream(backport_stream(ticket_id, "1.4"))
    kinds = [r.type for r in history.events]
    assert kinds == [
        "lts.release.backport_opened",
        "lts.release.backport_request_refused",
        "lts.release.sign_off_recorded",
        "lts.release.sign_off_recorded",
        "lts.release.backport_ready",
    ]
    other_line = await backport(service, ticket_id, "1.3", until=lambda v: True)
    assert other_line["status"] == "open"

    newer = "f" * 40
    await record_ci(service, f"lts/v1.4/issue-{ticket_id}", newer, ("unit",))
    reopened = await backport(service, ticket_id, "1.4", until=lambda v: v["status"] == "open")
    assert reopened["head_commit"] == newer
    assert f"QA sign-off of {newer}" in reopened["missing"]


async def test_a_closed_ticket_closes_its_backports(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service, at = release_service, datetime.now(UTC)
    closed = TicketClosed(
        ticket_id=ticket_id, cause="advisory_withdrawn", reason="advisory withdrawn", closed_at=at
    )

    await publish(kafka, service.triage_topic, [*approved_plan(ticket_id, at), closed], at=at)

    for line in ("1.4", "1.3"):
        view = await backport(service, ticket_id, line, until=lambda v: v["status"] == "closed")
        assert view["closed_reason"] == "advisory withdrawn"
