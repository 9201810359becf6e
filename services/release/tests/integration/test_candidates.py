"""Candidates on real Kafka and PostgreSQL: ready backports of a line -> POST
/lines/{line}/candidates (release manager) -> a candidate with the next patch version of the
line's last release; a minor bump is 409 naming the rule until an engineering lead's exception
is recorded; an unknown line is 404; the read models list lines and candidates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lts_events.contracts.release.candidates import line_stream

from .conftest import Running, eventually
from .release_flows import backport, bearer, ready_backports
from .triage_feed import approved_plan, publish

pytestmark = pytest.mark.integration
MANAGER = bearer("dev-release_manager")


async def line_summary(service: Running, line: str, until: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await service.client.get(f"/lines/{line}", headers=MANAGER)
        view: dict[str, Any] = answer.json()
        return view if until(view) else None

    return await eventually(probe)


async def test_ready_backports_become_patch_candidates_of_their_lines(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service, at = release_service, datetime.now(UTC)
    await publish(kafka, service.triage_topic, approved_plan(ticket_id, at), at=at)
    await ready_backports(service, ticket_id, {"1.4": "4" * 40, "1.3": "3" * 40})
    await line_summary(service, "1.4", until=lambda v: v["ready_backports"] == [ticket_id])

    not_a_manager = await service.client.post("/lines/1.4/candidates", headers=bearer("dev-qa"))
    unknown = await service.client.post("/lines/0.9/candidates", headers=MANAGER)
    minor = await service.client.post(
        "/lines/1.4/candidates", json={"version": "1.5.0"}, headers=MANAGER
    )
    v14 = await service.client.post("/lines/1.4/candidates", headers=MANAGER)
    v13 = await service.client.post("/lines/1.3/candidates", json={}, headers=MANAGER)

    assert not_a_manager.status_code == 403
    assert unknown.status_code == 404
    assert minor.status_code == 409
    assert minor.json()["detail"].startswith("patch-only: ")
    assert v14.status_code == 201, v14.text
    assert v14.headers["Location"] == "/candidates/1.4.3rc1"
    candidate = v14.json()
    assert (candidate["version"], candidate["tag"], candidate["previous_version"]) == (
        "1.4.3",
        "v1.4.3rc1",
        "1.4.2",
    )
    assert [(b["ticket_id"], b["commit"]) for b in candidate["backports"]] == [
        (ticket_id, "4" * 40)
    ]
    assert candidate["backports"][0]["cve_ids"] == ["CVE-2026-12345"]
    assert v13.json()["candidate_id"] == "1.3.8rc1"
    read = await service.client.get("/candidates/1.3.8rc1", headers=bearer("dev-qa"))
    assert read.json()["status"] == "open"
    assert read.headers["ETag"] == v13.headers["ETag"] == '"1"'
    unchanged = await service.client.get(
        "/candidates/1.3.8rc1", headers={**bearer("dev-qa"), "If-None-Match": '"1"'}
    )
    assert unchanged.status_code == 304
    refusals = await service.store.read_stream(line_stream("1.4"))
    assert [
        r.event.rule.value for r in refusals.events if r.type.endswith("candidate_refused")
    ] == [  # type: ignore[attr-defined]
        "release-manager-only",
        "patch-only",
    ]

    again = await service.client.post("/lines/1.4/candidates", headers=MANAGER)
    assert again.json()["candidate_id"] == "1.4.3rc2"
    shipped = await backport(
        service,
        ticket_id,
        "1.4",
        until=lambda v: sorted(v["candidates"]) == ["1.4.3rc1", "1.4.3rc2"],
    )
    assert shipped["status"] == "ready"


async def test_an_engineering_lead_s_exception_allows_a_minor_version(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service, at = release_service, datetime.now(UTC)
    await publish(kafka, service.triage_topic, approved_plan(ticket_id, at, lines=["1.4"]), at=at)
    await ready_backports(service, ticket_id, {"1.4": "5" * 40})
    await line_summary(service, "1.4", until=lambda v: v["ready_backports"] == [ticket_id])

    by_a_manager = await service.client.post(
        "/lines/1.4/version-exceptions", json={"version": "1.5.0", "reason": "x"}, headers=MANAGER
    )
    approved = await service.client.post(
        "/lines/1.4/version-exceptions",
        json={"version": "1.5.0", "reason": "the fix needs a new optional API"},
        headers=bearer("dev-engineering_lead"),
    )
    minor = await service.client.post(
        "/lines/1.4/candidates", json={"version": "1.5.0"}, headers=MANAGER
    )

    assert by_a_manager.status_code in (403, 422)
    assert approved.status_code == 201, approved.text
    assert minor.status_code == 201, minor.text
    assert (minor.json()["bump"], minor.json()["version_exception_by"]) == (
        "minor",
        "dev-engineering_lead",
    )


async def test_the_lines_read_model_lists_the_supported_lines_with_their_versions(
    release_service: Running,
) -> None:
    answer = await release_service.client.get("/lines", headers=MANAGER)

    lines = {line["line"]: line for line in answer.json()}
    assert {"1.4", "1.3"} <= set(lines)
    assert (lines["1.4"]["latest_version"], lines["1.4"]["safe_version"]) == ("1.4.2", "1.4.2")
    assert lines["1.4"]["next_version"] == "1.4.3"
    releases = await release_service.client.get("/lines/1.4/releases", headers=MANAGER)
    assert [r["version"] for r in releases.json()["releases"]] == ["1.4.2"]
    assert (
        await release_service.client.get("/lines/0.9/releases", headers=MANAGER)
    ).status_code == 404
    assert (await release_service.client.get("/releases/1.4.2", headers=MANAGER)).json()["safe"]
