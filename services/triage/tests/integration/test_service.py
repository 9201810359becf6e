"""The triage service as it runs (the real `SPEC` in the shared host) against real Kafka and
PostgreSQL: TicketOpened on the intake topic -> triage events on the triage topic; approvals over
HTTP -> PlanApproved."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import AdvisoryWithdrawn
from lts_events.contracts.triage import (
    BackportPlanned,
    EmergencyFastTrackApproved,
    PlanApproved,
    RequestRefused,
    SeverityProposed,
    TicketClosed,
    TicketReceived,
    TicketTriaged,
)
from lts_events.envelope import Envelope
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_triage.main import SPEC

from .conftest import consume_until, publish, ticket_opened, types

pytestmark = pytest.mark.integration

CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


@dataclasses.dataclass
class Running:
    client: httpx.AsyncClient
    intake_topic: str
    triage_topic: str


@pytest.fixture
async def service(
    kafka: str,
    database_url: str,
    unique: str,
    drop_schemas: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Running]:
    name = f"triage_{unique}"
    intake_topic = f"lts.intake_{unique}.events"
    monkeypatch.setenv("LTS_TRIAGE_INTAKE_TOPIC", intake_topic)
    drop_schemas.append(name)
    spec = dataclasses.replace(SPEC, name=name)
    settings = RuntimeSettings(
        kafka_bootstrap_servers=kafka, database_url=database_url, timer_interval=0.2
    )
    app = build_app(spec, settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://triage") as client:
            yield Running(client, intake_topic, f"lts.{name}.events")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def has(kind: str) -> object:
    return lambda seen: kind in types(seen)


async def test_a_ticket_with_a_cvss_vector_is_triaged_and_planned_on_the_triage_topic(
    service: Running, kafka: str, ticket_id: int
) -> None:
    opened = ticket_opened(ticket_id, datetime.now(UTC), cvss_vectors=[CVSS_CRITICAL])

    await publish(kafka, service.intake_topic, opened)
    seen = await consume_until(
        kafka,
        service.triage_topic,
        ticket_stream(ticket_id),
        lambda s: BackportPlanned.type in types(s),
    )

    assert types(seen)[:3] == [TicketReceived.type, SeverityProposed.type, TicketTriaged.type]
    triaged = next(e for e in seen if e.type == TicketTriaged.type).event
    assert isinstance(triaged, TicketTriaged)
    assert triaged.automatic
    assert triaged.severity.value == "critical"
    plan = next(e for e in seen if e.type == BackportPlanned.type)
    assert plan.data["target_branches"] == ["release-lts/v1.4", "release-lts/v1.3"]
    assert plan.actorrole == "automation"
    assert plan.reason


async def test_engineer_triage_and_http_approvals_lead_to_plan_approved(
    service: Running, kafka: str, ticket_id: int
) -> None:
    client = service.client
    await publish(kafka, service.intake_topic, ticket_opened(ticket_id, datetime.now(UTC)))
    await consume_until(
        kafka,
        service.triage_topic,
        ticket_stream(ticket_id),
        lambda s: SeverityProposed.type in types(s),
    )
    checklist = {
        "severity": "high",
        "reproduced": True,
        "affected_versions": ["1.4.2", "1.3.7"],
        "public_exploit": False,
        "workaround": False,
        "api_change": False,
        "effort": "S",
        "security": True,
        "comment": "reproduced on 1.4.2",
    }

    triaged = await client.post(
        f"/tickets/{ticket_id}/triage", json=checklist, headers=bearer("dev-triage_engineer")
    )
    not_a_triager = await client.post(
        f"/tickets/{ticket_id}/triage", json=checklist, headers=bearer("dev-qa")
    )
    refused = await client.post(
        f"/tickets/{ticket_id}/approvals",
        json={"role": "qa", "comment": "lgtm", "revision": 1},
        headers=bearer("dev-maintainer"),
    )
    plan = await client.get(f"/tickets/{ticket_id}/plan", headers=bearer("dev-qa"))
    statuses = []
    for token, role, named in [
        ("dev-maintainer-alice", "code_reviewer", {"If-Match": plan.headers["ETag"]}),
        ("dev-qa", "qa", {}),  # no revision named: 428
        ("dev-qa", "qa", {"If-Match": '"7"'}),  # a revision that is not the plan's: 412
        ("dev-qa", "qa", {"If-Match": '"1"'}),
        ("dev-qa", "qa", {"If-Match": '"1"'}),
        ("dev-release_manager", "release_manager", {"If-Match": '"1"'}),
        ("dev-security_reviewer", "security_reviewer", {"If-Match": 'W/"1"'}),
    ]:
        answer = await client.post(
            f"/tickets/{ticket_id}/approvals",
            json={"role": role, "comment": "ok"},
            headers={**bearer(token), **named},
        )
        statuses.append(answer.status_code)
    view = (await client.get(f"/tickets/{ticket_id}/triage", headers=bearer("dev-qa"))).json()
    seen = await consume_until(
        kafka,
        service.triage_topic,
        ticket_stream(ticket_id),
        lambda s: PlanApproved.type in types(s),
    )

    assert triaged.status_code == 200, triaged.text
    assert triaged.json()["plan"]["target_branches"] == ["release-lts/v1.4", "release-lts/v1.3"]
    assert triaged.json()["plan"]["security_review_required"] is True
    assert not_a_triager.status_code == 403
    assert refused.status_code == 403
    assert "does not hold the role qa" in refused.json()["detail"]
    assert (plan.status_code, plan.headers["ETag"]) == (200, '"1"')
    assert statuses == [201, 428, 412, 201, 200, 201, 201]
    assert view["status"] == "approved"
    assert view["missing_approvals"] == []
    refusals = [e.event for e in seen if e.type == RequestRefused.type]
    assert [(r.actor, r.action, r.refusal.value) for r in refusals] == [  # type: ignore[attr-defined]
        ("dev-qa", "triage", "forbidden"),
        ("dev-maintainer", "sign_off", "forbidden"),
        ("dev-qa", "sign_off", "precondition_required"),
        ("dev-qa", "sign_off", "precondition_failed"),
    ]
    approved = _only(seen, PlanApproved.type).event
    assert isinstance(approved, PlanApproved)
    assert {a.role.value for a in approved.approvals} == {
        "code_reviewer",
        "qa",
        "release_manager",
        "security_reviewer",
    }


CHECKLIST = {
    "severity": "high",
    "reproduced": True,
    "affected_versions": ["1.4.2"],
    "public_exploit": False,
    "workaround": False,
    "api_change": False,
    "effort": "S",
    "security": False,
}


async def proposed(service: Running, kafka: str, ticket_id: int) -> str:
    """A ticket triage received and proposed a severity for; its ETag."""
    await publish(kafka, service.intake_topic, ticket_opened(ticket_id, datetime.now(UTC)))
    await consume_until(
        kafka, service.triage_topic, ticket_stream(ticket_id), has(SeverityProposed.type)
    )
    read = await service.client.get(f"/tickets/{ticket_id}/triage", headers=bearer("dev-qa"))
    return read.headers["ETag"]


async def test_a_triage_naming_a_stale_version_is_412_and_recorded_and_the_current_is_done(
    service: Running, kafka: str, ticket_id: int
) -> None:
    client, engineer = service.client, bearer("dev-triage_engineer")
    tag = await proposed(service, kafka, ticket_id)

    unchanged = await client.get(
        f"/tickets/{ticket_id}/triage", headers={**engineer, "If-None-Match": tag}
    )
    stale = await client.post(
        f"/tickets/{ticket_id}/triage", json=CHECKLIST, headers={**engineer, "If-Match": '"1"'}
    )
    current = await client.post(
        f"/tickets/{ticket_id}/triage", json=CHECKLIST, headers={**engineer, "If-Match": tag}
    )
    seen = await consume_until(
        kafka, service.triage_topic, ticket_stream(ticket_id), has(TicketTriaged.type)
    )

    assert tag != '"1"'
    assert (unchanged.status_code, unchanged.headers["ETag"]) == (304, tag)
    assert (stale.status_code, stale.headers["ETag"]) == (412, tag)
    assert stale.headers["content-type"] == "application/problem+json"
    assert current.status_code == 200, current.text
    assert current.headers["ETag"] != tag
    refusals = [e.event for e in seen if e.type == RequestRefused.type]
    assert [(r.action, r.refusal.value) for r in refusals] == [  # type: ignore[attr-defined]
        ("triage", "precondition_failed")
    ]
    assert types(seen).count(TicketTriaged.type) == 1


async def test_of_two_triages_naming_the_same_version_one_is_done_the_other_412(
    service: Running, kafka: str, ticket_id: int
) -> None:
    tag = await proposed(service, kafka, ticket_id)

    answers = await asyncio.gather(
        *(
            service.client.post(
                f"/tickets/{ticket_id}/triage",
                json={**CHECKLIST, "severity": severity},
                headers={**bearer("dev-triage_engineer"), "If-Match": tag},
            )
            for severity in ("high", "critical")
        )
    )

    assert sorted(a.status_code for a in answers) == [200, 412]


async def test_triage_requires_a_triage_engineer(service: Running, ticket_id: int) -> None:
    answer = await service.client.post(
        f"/tickets/{ticket_id}/triage", json={}, headers=bearer("dev-qa")
    )

    assert answer.status_code in (403, 422)


def _only(seen: list[Envelope], kind: str) -> Envelope:
    matches = [e for e in seen if e.type == kind]
    assert len(matches) == 1, types(seen)
    return matches[0]


async def test_an_emergency_fast_track_over_http_is_approved_for_post_facto_audit(
    service: Running, kafka: str, ticket_id: int
) -> None:
    client = service.client
    await publish(kafka, service.intake_topic, ticket_opened(ticket_id, datetime.now(UTC)))
    await consume_until(
        kafka,
        service.triage_topic,
        ticket_stream(ticket_id),
        lambda s: SeverityProposed.type in types(s),
    )
    checklist = {
        "severity": "critical",
        "reproduced": True,
        "affected_versions": ["1.4.2"],
        "public_exploit": False,
        "workaround": False,
        "api_change": True,
        "effort": "M",
        "security": False,
    }

    deferred = await client.post(
        f"/tickets/{ticket_id}/triage", json=checklist, headers=bearer("dev-triage_engineer")
    )
    emergency = await client.post(
        f"/tickets/{ticket_id}/emergency",
        json={"reason": "production outage on 1.4"},
        headers=bearer("dev-engineering_lead"),
    )
    for token, role in [
        ("dev-engineering_lead", "engineering_lead"),
        ("dev-release_manager", "release_manager"),
    ]:
        signed = await client.post(
            f"/tickets/{ticket_id}/approvals",
            json={"role": role, "revision": 1},
            headers=bearer(token),
        )
        assert signed.status_code == 201, signed.text
    postmortem = await client.post(
        f"/tickets/{ticket_id}/follow-ups/postmortem",
        json={"summary": "root cause: a missing index", "link": "https://wiki.example/pm/1"},
        headers=bearer("dev-sre"),
    )
    seen = await consume_until(
        kafka,
        service.triage_topic,
        ticket_stream(ticket_id),
        lambda s: PlanApproved.type in types(s),
    )

    assert deferred.json()["decision"] == "defer"
    assert emergency.status_code == 202
    assert emergency.json()["plan"]["emergency"] is True
    assert emergency.json()["missing_approvals"] == ["engineering_lead", "release_manager"]
    fast_track = _only(seen, EmergencyFastTrackApproved.type).event
    assert isinstance(fast_track, EmergencyFastTrackApproved)
    assert fast_track.post_facto_audit_required
    assert fast_track.postmortem_required
    assert postmortem.status_code == 201, postmortem.text
    follow_ups = {f["follow_up"]: f["status"] for f in postmortem.json()["follow_ups"]}
    assert follow_ups == {"post_facto_audit": "open", "postmortem": "closed"}


async def test_a_withdrawn_advisory_closes_the_ticket_and_its_plan_takes_no_sign_off(
    service: Running, kafka: str, ticket_id: int
) -> None:
    now = datetime.now(UTC)
    await publish(
        kafka, service.intake_topic, ticket_opened(ticket_id, now, cvss_vectors=[CVSS_CRITICAL])
    )
    await consume_until(
        kafka, service.triage_topic, ticket_stream(ticket_id), has(BackportPlanned.type)
    )

    withdrawn = AdvisoryWithdrawn(ticket_id=ticket_id, advisory_id="GHSA-xxxx", withdrawn_at=now)
    await publish(kafka, service.intake_topic, withdrawn, version=2)
    seen = await consume_until(
        kafka, service.triage_topic, ticket_stream(ticket_id), has(TicketClosed.type)
    )
    signed = await service.client.post(
        f"/tickets/{ticket_id}/approvals",
        json={"role": "qa", "revision": 1},
        headers=bearer("dev-qa"),
    )
    view = await service.client.get(f"/tickets/{ticket_id}/triage", headers=bearer("dev-qa"))

    closed = _only(seen, TicketClosed.type).event
    assert isinstance(closed, TicketClosed)
    assert closed.advisory_id == "GHSA-xxxx"
    assert signed.status_code == 409
    assert view.json()["status"] == "closed"
