"""From the release service's publication to the channels, on the real service with real
Kafka, PostgreSQL, the local SMTP server and a local HTTP receiver: the published release's note,
approved by the communications lead, arrives in the maildir and on the external chat and is in
the releases feed; the internal status goes to the internal chat only."""

from __future__ import annotations

import dataclasses
import json
import mailbox
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager
from lts_comms.main import SPEC
from lts_devtools.infra import Infrastructure
from lts_events.contracts.comms.delivery import DeliverySucceeded
from lts_events.contracts.comms.documents import DocumentDrafted, DocumentReleased, document_stream
from lts_events.infra import paths
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

from .receiver import Receiver, running_receiver
from .test_delivery_service import concluded, feed, outcome_of
from .test_drafting_service import LEAD, document_until, drafted, facts, publication, publish

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class Running:
    client: httpx.AsyncClient
    store: PostgresEventStore
    kafka: str
    topics: dict[str, str]
    unique: str
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def service(
    infra: Infrastructure, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    unique = uuid.uuid4().hex[:10]
    name = f"comms_{unique}"
    topics = {t: f"lts.{t}_{unique}.events" for t in ("release", "triage", "intake")}
    for topic, actual in topics.items():
        monkeypatch.setenv(f"LTS_COMMS_{topic.upper()}_TOPIC", actual)
    lists = {"release_note": [f"users-{unique}@example.org"]}
    chats = [
        {
            "name": "users",
            "url": receiver.url("/users"),
            "flavour": "slack",
            "audience": "external",
        },
        {"name": "team", "url": receiver.url("/team"), "flavour": "teams", "audience": "internal"},
    ]
    monkeypatch.setenv("LTS_COMMS_MAIL_LISTS", json.dumps(lists))
    monkeypatch.setenv("LTS_COMMS_CHAT_WEBHOOKS", json.dumps(chats))
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
                kafka = infra.kafka_bootstrap_servers
                yield Running(client, store, kafka, topics, unique, receiver)
    finally:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await store.close()


async def test_a_published_release_s_approved_note_reaches_mail_chat_and_feed(
    service: Running,
) -> None:
    unique, ticket_id = service.unique, 7
    version, now = f"1.4.{int(unique[:6], 16)}", datetime.now(UTC)
    ticket, rc = facts(ticket_id, version, now)
    note_id = f"release-note-{version}"

    await publish(service, "intake", f"ticket-{ticket_id}", ticket)
    await publish(
        service, "release", f"candidate-c-{version}", rc, publication(version, ticket_id, now)
    )
    [note] = await document_until(service, note_id, drafted(1))
    assert isinstance(note, DocumentDrafted)
    approved = await service.client.post(
        f"/documents/{note_id}/approvals", json={"revision": 1}, headers=LEAD
    )
    assert approved.status_code == 200, approved.text
    mail = await outcome_of(
        service.store, f"{note_id}.r1.email.users-{unique}@example.org", concluded
    )
    chat = await outcome_of(service.store, f"{note_id}.r1.slack.users", concluded)
    status = await outcome_of(service.store, f"status-{version}-published.r1.teams.team", concluded)
    releases = await feed(
        service.client,
        "/feeds/releases.atom",
        until=lambda entries: any(e.title == note.title for e in entries),
    )

    assert all(isinstance(outcome[-1], DeliverySucceeded) for outcome in (mail, chat, status))
    [stored] = [
        m
        for m in mailbox.Maildir(paths.maildir(), create=False)
        if m["To"] == f"users-{unique}@example.org"
    ]
    assert stored["Subject"] == note.title
    assert (
        f"pip install 'lts-flow=={version}'"
        in stored.get_payload(0).get_payload(decode=True).decode()
    )
    [to_users] = service.receiver.at("/users")
    assert json.loads(to_users.body)["text"] == note.title
    [to_team] = [json.loads(r.body) for r in service.receiver.at("/team")]
    internal = await service.store.read_stream(document_stream(f"status-{version}-published"))
    [status_released] = [r.event for r in internal.events if isinstance(r.event, DocumentReleased)]
    assert to_team["attachments"][0]["content"]["body"][0]["text"] == status_released.title
    assert note.title in [entry.title for entry in releases.entries]
