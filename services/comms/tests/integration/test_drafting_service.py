"""Drafting on the real service (the real `SPEC` in the shared host) with real Kafka and
PostgreSQL: the test publishes intake's and the release service's events onto their (renamed)
topics as their relays would; a published release produces its release note, an embargoed
advisory is released only once its timer lifts the embargo, and a rollback amends the note."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from lts_comms.main import SPEC
from lts_devtools.infra import Infrastructure
from lts_events.actors import Role
from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentApproved,
    DocumentDrafted,
    DocumentReleased,
    DocumentRequestRefused,
    EmbargoLifted,
    RefusalKind,
    RevisionCause,
    document_stream,
)
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.contracts.release.candidates import Bump, CandidateOpened, IncludedBackport
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.release.rollout import RollbackTrigger, RolledBack
from lts_events.contracts.triage import RolloutStrategy
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.relay import envelope_record
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

pytestmark = pytest.mark.integration

LEAD = {"Authorization": "Bearer dev-communications_lead"}
SECURITY = {"Authorization": "Bearer dev-security_reviewer"}
MAINTAINER = {"Authorization": "Bearer dev-maintainer"}


@dataclasses.dataclass
class Running:
    client: httpx.AsyncClient
    store: PostgresEventStore
    kafka: str
    topics: dict[str, str]
    unique: str


@pytest.fixture
async def service(infra: Infrastructure, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    unique = uuid.uuid4().hex[:10]
    name = f"comms_{unique}"
    topics = {t: f"lts.{t}_{unique}.events" for t in ("release", "triage", "intake")}
    for topic, actual in topics.items():
        monkeypatch.setenv(f"LTS_COMMS_{topic.upper()}_TOPIC", actual)
    settings = RuntimeSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
        timer_interval=0.1,
    )
    app = build_app(dataclasses.replace(SPEC, name=name), settings)
    store = await PostgresEventStore.connect(infra.database_url, schema=name)
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://comms") as client:
                yield Running(client, store, infra.kafka_bootstrap_servers, topics, unique)
    finally:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await store.close()


async def publish(service: Running, topic: str, key: str, *events: Event) -> None:
    """As the producing service's relay does: CloudEvents binary mode, key = stream id."""
    producer = AIOKafkaProducer(bootstrap_servers=service.kafka)
    await producer.start()
    try:
        for event in events:
            envelope = Envelope(
                id=str(uuid.uuid4()),
                source=f"lts-flow/{topic}",
                type=event.type,
                subject=key,
                time=datetime.now(UTC),
                data=event.to_data(),
                actorid=f"lts-{topic}",
                actorrole=Role.AUTOMATION,
            )
            _, value, headers = envelope_record(envelope)
            await producer.send_and_wait(
                service.topics[topic], value, key=key.encode(), headers=headers
            )
    finally:
        await producer.stop()


async def document_until(
    service: Running, document_id: str, done: Callable[[list[Event]], bool], within: float = 60
) -> list[Event]:
    """The document's events once `done` holds (polling its stream: no fixed sleep)."""
    async with asyncio.timeout(within):
        while True:
            history = await service.store.read_stream(document_stream(document_id))
            events = [recorded.event for recorded in history.events]
            if done(events):
                return events
            await asyncio.sleep(0.1)


def drafted(revisions: int) -> Callable[[list[Event]], bool]:
    return lambda events: sum(isinstance(e, DocumentDrafted) for e in events) >= revisions


def released(events: list[Event]) -> bool:
    return any(isinstance(e, DocumentReleased) for e in events)


def facts(ticket_id: int, version: str, at: datetime) -> tuple[TicketOpened, CandidateOpened]:
    ticket = TicketOpened(
        ticket_id=ticket_id,
        title="Session fixation in login",
        description="An attacker who can set a cookie can take over the session.",
        source=TicketSource.REPORT,
        kind=TicketKind.SECURITY,
        reporter="alice",
        cve_ids=["CVE-2026-1234"],
        severity_guess=Severity.HIGH,
        affected_versions=["1.4.2"],
        opened_at=at,
    )
    rc = CandidateOpened(
        candidate_id=f"c-{version}",
        line="1.4",
        version=version,
        rc=1,
        tag=f"v{version}rc1",
        final_tag=f"v{version}",
        previous_version="1.4.2",
        bump=Bump.PATCH,
        backports=(
            IncludedBackport(
                ticket_id=ticket_id,
                patch_branch=f"lts/v1.4/issue-{ticket_id}",
                commit="0" * 40,
                rollout_strategy=RolloutStrategy.STAGED_CANARY,
                emergency=False,
                fast_tracked=False,
            ),
        ),
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=False,
        opened_by="rm",
        opened_at=at,
    )
    return ticket, rc


def publication(version: str, ticket_id: int, at: datetime) -> ReleasePublished:
    return ReleasePublished(
        candidate_id=f"c-{version}",
        version=version,
        line="1.4",
        tag=f"v{version}",
        channels=("pypi",),
        artifacts=(),
        release_page_url=f"https://releases.example.org/{version}",
        ticket_ids=(ticket_id,),
        previous_safe_version="1.4.2",
        published_by="rm",
        published_at=at,
    )


async def test_a_published_release_produces_its_note_and_a_rollback_amends_it(
    service: Running,
) -> None:
    ticket_id, version, now = 7, f"1.4.{int(service.unique[:6], 16)}", datetime.now(UTC)
    ticket, rc = facts(ticket_id, version, now)
    await publish(service, "intake", f"ticket-{ticket_id}", ticket)
    await publish(
        service, "release", f"candidate-c-{version}", rc, publication(version, ticket_id, now)
    )

    [note] = await document_until(service, f"release-note-{version}", drafted(1))
    assert isinstance(note, DocumentDrafted)
    assert f"pip install 'lts-flow=={version}'" in note.renderings.markdown
    assert f"https://releases.example.org/{version}" in note.renderings.html
    status = await document_until(service, f"status-{version}-published", released)
    assert isinstance(status[-1], DocumentReleased)
    assert status[-1].audience is Audience.INTERNAL

    rollback = RolledBack(
        rollout_id=f"r-{version}",
        from_version=version,
        to_version="1.4.2",
        line="1.4",
        reason="error rate above 5%",
        trigger=RollbackTrigger.AUTOMATIC,
        detected_at=now,
        completed_at=now + timedelta(minutes=5),
    )
    await publish(service, "release", f"rollout-r-{version}", rollback)

    events = await document_until(service, f"release-note-{version}", drafted(2))
    amended = [e for e in events if isinstance(e, DocumentDrafted)][-1]
    assert amended.cause is RevisionCause.AMENDED_AFTER_ROLLBACK
    assert "Do not upgrade" in amended.renderings.markdown
    await document_until(service, f"status-{version}-rollback-1", released)
    page = (await service.client.get(f"/documents/release-note-{version}", headers=LEAD)).json()
    assert [r["cause"] for r in page["revisions"]] == ["drafted", "amended_after_rollback"]


async def test_an_embargoed_advisory_is_released_only_after_its_timer(service: Running) -> None:
    ticket_id, version, now = 8, f"1.4.{int(service.unique[:6], 16)}", datetime.now(UTC)
    ticket, rc = facts(ticket_id, version, now)
    await publish(service, "intake", f"ticket-{ticket_id}", ticket)
    await publish(service, "release", f"candidate-c-{version}", rc)
    advisory = f"advisory-{ticket_id}"
    await document_until(service, advisory, drafted(1))
    until = datetime.now(UTC) + timedelta(seconds=4)
    answer = await service.client.post(
        f"/documents/{advisory}/embargo",
        json={"until": until.isoformat(), "reason": "coordinated disclosure with upstream"},
        headers=SECURITY,
    )
    assert answer.status_code == 200, answer.text
    hidden = await service.client.get(f"/documents/{advisory}", headers=MAINTAINER)
    listed = await service.client.get("/documents?kind=security_advisory", headers=MAINTAINER)
    assert hidden.status_code == 403  # embargoed details: lead and security reviewer only
    assert [d["title"] for d in listed.json()] == ["(advisory under embargo)"]

    await publish(
        service, "release", f"candidate-c-{version}", publication(version, ticket_id, now)
    )
    await document_until(service, advisory, drafted(2))  # the fix is out: revision 2
    for headers in (LEAD, SECURITY):
        approved = await service.client.post(
            f"/documents/{advisory}/approvals", json={"revision": 2}, headers=headers
        )
        assert approved.status_code == 200, approved.text
    premature = await service.client.post(f"/documents/{advisory}/release", json={}, headers=LEAD)
    events = await document_until(service, advisory, released, within=30)

    assert premature.status_code == 409
    assert "under embargo until" in premature.json()["detail"]
    lifted = next(e for e in events if isinstance(e, EmbargoLifted))
    release = next(e for e in events if isinstance(e, DocumentReleased))
    assert lifted.lifted_at >= until
    assert release.released_at >= until
    assert release.audience is Audience.EXTERNAL
    assert release.osv is not None
    assert release.osv["affected"][0]["ranges"][0]["events"][1] == {"fixed": version}
    page = (await service.client.get(f"/documents/{advisory}", headers=LEAD)).json()
    [embargo] = [h for h in page["history"] if h["type"] == "lts.comms.embargo_set"]
    assert (embargo["role"], embargo["reason"]) == (
        "security_reviewer",
        "coordinated disclosure with upstream",
    )
    refusals = [e.type for e in events if e.type == "lts.comms.document_request_refused"]
    assert refusals == ["lts.comms.document_request_refused"]  # the premature send, recorded


async def an_advisory(service: Running, ticket_id: int) -> str:
    """A drafted security advisory (revision 1); its id."""
    version, now = f"1.4.{int(service.unique[:6], 16)}", datetime.now(UTC)
    ticket, rc = facts(ticket_id, version, now)
    await publish(service, "intake", f"ticket-{ticket_id}", ticket)
    await publish(service, "release", f"candidate-c-{version}", rc)
    await document_until(service, f"advisory-{ticket_id}", drafted(1))
    return f"advisory-{ticket_id}"


async def test_a_document_is_sent_with_its_version_and_a_stale_if_match_is_412(
    service: Running,
) -> None:
    advisory = await an_advisory(service, 9)
    read = await service.client.get(f"/documents/{advisory}", headers=LEAD)
    tag = read.headers["ETag"]

    unchanged = await service.client.get(
        f"/documents/{advisory}", headers={**LEAD, "If-None-Match": tag}
    )
    stale = await service.client.post(
        f"/documents/{advisory}/approvals",
        json={"revision": 1},
        headers={**LEAD, "If-Match": '"0"'},
    )
    current = await service.client.post(
        f"/documents/{advisory}/approvals",
        json={"revision": 1},
        headers={**LEAD, "If-Match": stale.headers["ETag"]},
    )

    assert tag == f'"{read.json()["history"][-1]["version"]}"'
    assert (unchanged.status_code, unchanged.headers["ETag"], unchanged.content) == (304, tag, b"")
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    # the refusal is in the document's history, so its ETag moved past it
    assert stale.headers["ETag"] == stale.json()["etag"] != tag
    assert current.status_code == 200, current.text
    history = await service.store.read_stream(document_stream(advisory))
    refused = [r.event for r in history.events if isinstance(r.event, DocumentRequestRefused)]
    approvals = [r.event for r in history.events if isinstance(r.event, DocumentApproved)]
    assert [(r.action, r.refusal) for r in refused] == [
        ("approve", RefusalKind.PRECONDITION_FAILED)
    ]
    assert [a.approved_by for a in approvals] == ["dev-communications_lead"]


async def test_of_two_reviews_naming_the_same_version_one_is_done_the_other_412(
    service: Running,
) -> None:
    advisory = await an_advisory(service, 10)
    tag = (await service.client.get(f"/documents/{advisory}", headers=LEAD)).headers["ETag"]

    answers = await asyncio.gather(
        *(
            service.client.post(
                f"/documents/{advisory}/approvals",
                json={"revision": 1},
                headers={**headers, "If-Match": tag},
            )
            for headers in (LEAD, SECURITY)
        )
    )

    assert sorted(a.status_code for a in answers) == [200, 412]
