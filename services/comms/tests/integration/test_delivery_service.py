"""The comms service as it runs (the real `SPEC` in the shared host) on real Kafka and
PostgreSQL, the real local SMTP server and a local HTTP receiver: a released revision, stored
as the documents side stores it, goes through the relay, the service's own consumer and the
durable timers to every channel; a channel answering 500 is retried, then given up, while the
others deliver."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import mailbox
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import jsonschema
import pytest
from asgi_lifespan import LifespanManager
from lts_comms.contexts import AdvisoryContext
from lts_comms.examples import example_context
from lts_comms.main import SPEC
from lts_comms.osv import osv_record
from lts_devtools.infra import Infrastructure
from lts_events.actors import automation
from lts_events.contracts.comms.delivery import (
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
    delivery_stream,
)
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentKind,
    DocumentReleased,
    document_stream,
)
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.infra import paths
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

from ..delivery_examples import RELEASED_AT, released
from .receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration

OSV_SCHEMA = Path(__file__).parents[1] / "unit" / "osv" / "schema.json"  # vendored, see SOURCE.md


def example_osv_record() -> dict[str, Any]:
    """The documents side's OSV record of its example advisory."""
    context = example_context(DocumentKind.SECURITY_ADVISORY)
    assert isinstance(context, AdvisoryContext)
    return osv_record(context, details="details", modified=RELEASED_AT, published=RELEASED_AT)


def osv_schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(OSV_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@dataclasses.dataclass
class Running:
    client: httpx.AsyncClient
    store: PostgresEventStore
    receiver: Receiver
    unique: str


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
    for topic in ("RELEASE", "TRIAGE", "INTAKE"):  # nothing of the shared topics is consumed
        monkeypatch.setenv(f"LTS_COMMS_{topic}_TOPIC", f"lts.{topic.lower()}_{unique}.events")
    monkeypatch.setenv(
        "LTS_COMMS_MAIL_LISTS", json.dumps({"release_note": [f"u-{unique}@example.org"]})
    )
    monkeypatch.setenv(
        "LTS_COMMS_CHAT_WEBHOOKS",
        json.dumps(
            [
                {
                    "name": "chat",
                    "url": receiver.url("/slack"),
                    "flavour": "slack",
                    "audience": "external",
                }
            ]
        ),
    )
    monkeypatch.setenv(
        "LTS_COMMS_WEBHOOKS",
        json.dumps(
            [
                {
                    "name": "broken",
                    "url": receiver.url("/broken"),
                    "secret": "s",
                    "audience": "external",
                }
            ]
        ),
    )
    monkeypatch.setenv("LTS_COMMS_DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("LTS_COMMS_DELIVERY_RETRY_BASE_SECONDS", "0.05")
    receiver.statuses["/broken"] = 500
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
                yield Running(client, store, receiver, unique)
    finally:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await store.close()


async def release(store: PostgresEventStore, document: DocumentReleased) -> None:
    """Store the released revision as the documents side does; the relay publishes it."""
    metadata = Metadata.trusted(actor=automation("comms"))
    stream = document_stream(document.document_id)
    await store.append(stream, [NewEvent.of(document, metadata)], expected_version=ANY)


async def outcome_of(
    store: PostgresEventStore, delivery: str, done: Callable[[list[Event]], bool]
) -> list[Event]:
    """The delivery's events once `done` holds for them (read until then, up to 60 s)."""
    async with asyncio.timeout(60):
        while True:
            history = await store.read_stream(delivery_stream(delivery))
            events = [recorded.event for recorded in history.events]
            if done(events):
                return events
            await asyncio.sleep(0.1)


async def feed(client: httpx.AsyncClient, path: str, *, until: Callable[[list[Any]], bool]) -> Any:
    """The feed as feedparser reads it, once `until` holds for its entries (the store's log
    shows a commit once no older transaction of the server is still open)."""
    async with asyncio.timeout(60):
        while True:
            parsed = feedparser.parse((await client.get(path)).content)
            if until(parsed.entries):
                return parsed
            await asyncio.sleep(0.1)


DEV_COMMS_LEAD = {"Authorization": "Bearer dev-communications_lead"}
FINAL = ("delivered", "gave up")


async def deliveries_of(client: httpx.AsyncClient, document: str, *, count: int) -> Any:
    """`GET /deliveries?document=...` once it shows `count` concluded deliveries (the store's
    log shows a commit once no older transaction of the server is still open)."""
    async with asyncio.timeout(60):
        while True:
            answer = await client.get(
                "/deliveries", params={"document": document}, headers=DEV_COMMS_LEAD
            )
            assert answer.status_code == 200, answer.text
            shown = answer.json()
            if len(shown) == count and all(d["status"] in FINAL for d in shown):
                return shown
            await asyncio.sleep(0.1)


def concluded(events: list[Event]) -> bool:
    return bool(events) and isinstance(events[-1], DeliverySucceeded | DeliveryGaveUp)


async def test_a_note_reaches_mail_and_chat_while_a_failing_webhook_is_retried_then_given_up(
    service: Running,
) -> None:
    unique = service.unique
    document = released(f"note-{unique}", title=f"lts-flow 1.4.3 released ({unique})")

    await release(service.store, document)
    mail = await outcome_of(
        service.store, f"note-{unique}.r1.email.u-{unique}@example.org", concluded
    )
    chat = await outcome_of(service.store, f"note-{unique}.r1.slack.chat", concluded)
    broken = await outcome_of(service.store, f"note-{unique}.r1.webhook.broken", concluded)

    [stored] = [
        m for m in mailbox.Maildir(paths.maildir(), create=False) if m["Subject"] == document.title
    ]
    assert stored["To"] == f"u-{unique}@example.org"
    assert isinstance(mail[-1], DeliverySucceeded)
    [posted] = service.receiver.at("/slack")
    assert json.loads(posted.body)["text"] == document.title
    assert isinstance(chat[-1], DeliverySucceeded)
    assert len(service.receiver.at("/broken")) == 3
    assert [type(e).__name__ for e in broken[1::2]] == [
        "DeliveryFailed",
        "DeliveryFailed",
        "DeliveryGaveUp",
    ]
    gave_up = broken[-1]
    assert isinstance(gave_up, DeliveryGaveUp)
    assert gave_up.reason == "3 attempts, the last: HTTP 500: internal error"
    assert all(isinstance(e, DeliveryFailed) for e in broken[1:4:2])
    shown = await deliveries_of(service.client, f"note-{unique}", count=3)
    anonymous = await service.client.get("/deliveries")
    assert anonymous.status_code == 401
    assert sorted((d["channel"], d["status"], d["attempts"]) for d in shown) == [
        ("email", "delivered", 1),
        ("slack", "delivered", 1),
        ("webhook", "gave up", 3),
    ]


async def test_released_documents_are_in_the_atom_feeds_and_the_osv_export(
    service: Running,
) -> None:
    unique = service.unique
    note = released(f"note-{unique}", title=f"lts-flow 1.4.3 released ({unique})")
    osv_id = f"x_LTS-2026-{unique}"
    record = {**example_osv_record(), "id": osv_id}
    advisory = released(f"advisory-{unique}", kind=DocumentKind.SECURITY_ADVISORY).model_copy(
        update={"title": f"Session fixation ({unique})", "osv": record}
    )
    internal = released(
        f"status-{unique}", kind=DocumentKind.INTERNAL_STATUS, audience=Audience.INTERNAL
    )

    for document in (note, advisory, internal):
        await release(service.store, document)
    advisories = await feed(service.client, "/feeds/advisories.atom", until=bool)
    releases = await feed(service.client, "/feeds/releases.atom", until=bool)
    one = await service.client.get(f"/osv/{osv_id}.json")
    everything = zipfile.ZipFile(io.BytesIO((await service.client.get("/osv/all.zip")).content))
    missing = await service.client.get("/osv/x_LTS-0000-0.json")

    assert [entry.title for entry in releases.entries] == [note.title]
    assert [entry.title for entry in advisories.entries] == [advisory.title]
    assert one.json() == record
    osv_schema_validator().validate(one.json())
    assert everything.namelist() == [f"{osv_id}.json"]
    assert missing.status_code == 404
