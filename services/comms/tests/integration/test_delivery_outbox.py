"""The delivery outbox on real PostgreSQL, the real local SMTP server (read back from its
maildir) and a local HTTP receiver: a restart in the middle of a delivery sends nothing twice;
what was in flight is sent again with the same idempotency key."""

from __future__ import annotations

import asyncio
import json
import mailbox
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from lts_comms.cli import app
from lts_comms.delivery.channels import Channels
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.outbox import Outbox
from lts_devtools.infra import Infrastructure
from lts_events.actors import automation
from lts_events.clock import system_clock
from lts_events.consumer import Inbound
from lts_events.contracts.comms.delivery import (
    DeliveryAttempted,
    DeliverySucceeded,
    delivery_stream,
)
from lts_events.contracts.comms.documents import DocumentReleased, document_stream
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.infra import paths
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore
from lts_events.timers import TimerLoop
from sqlalchemy import text
from typer.testing import CliRunner

from ..delivery_examples import released
from .receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def store(infra: Infrastructure, unique: str) -> AsyncIterator[PostgresEventStore]:
    schema = f"commsdel_{unique}"
    opened = await PostgresEventStore.connect(infra.database_url, schema=schema)
    try:
        yield opened
    finally:
        async with opened.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await opened.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def settings_for(infra: Infrastructure, receiver: Receiver, unique: str) -> DeliverySettings:
    assert infra.smtp is not None
    hooks = [
        {"name": "feed-a", "url": receiver.url("/a"), "secret": "s-a", "audience": "external"},
        {"name": "feed-b", "url": receiver.url("/b"), "secret": "s-b", "audience": "external"},
    ]
    return DeliverySettings(
        smtp_host=infra.smtp[0],
        smtp_port=infra.smtp[1],
        mail_lists={"release_note": [f"users-{unique}@example.org"]},
        webhooks=hooks,
        delivery_retry_base_seconds=0.05,
        send_timeout_seconds=30,
    )


async def release(
    store: PostgresEventStore, document: DocumentReleased
) -> Inbound[DocumentReleased]:
    """Store the released revision as the documents side does, and hand it to the outbox as the
    service's consumer would."""
    metadata = Metadata.trusted(actor=automation("comms"))
    await store.append(
        document_stream(document.document_id),
        [NewEvent.of(document, metadata)],
        expected_version=ANY,
    )
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="lts-flow/comms",
        type=document.type,
        subject=document_stream(document.document_id),
        time=document.released_at,
        data=document.to_data(),
        actorid="lts-comms",
        actorrole=metadata.actor.role,
    )
    return Inbound(envelope, document, "commsdel-test", "lts.comms.events", 0, 0)


def outbox(
    store: PostgresEventStore, settings: DeliverySettings, client: httpx.AsyncClient
) -> Outbox:
    return Outbox(
        store,
        channels=Channels(settings, client),
        settings=settings,
        clock=system_clock,
        consumer="comms",
    )


def mail_with(message_id: str) -> list[mailbox.MaildirMessage]:
    return [
        m for m in mailbox.Maildir(paths.maildir(), create=False) if m["Message-ID"] == message_id
    ]


async def test_a_restart_mid_delivery_sends_again_only_what_was_in_flight_with_the_same_key(
    infra: Infrastructure, store: PostgresEventStore, receiver: Receiver, unique: str
) -> None:
    settings = settings_for(infra, receiver, unique)
    document = released(f"note-{unique}")
    gate = receiver.hold("/b")  # feed-b takes the message, then hangs: the crash comes then
    async with httpx.AsyncClient() as client:
        first = outbox(store, settings, client)
        await first.on_document_released(await release(store, document))
        crashed = asyncio.create_task(
            TimerLoop(store, handler=first.on_timer, clock=system_clock).tick()
        )
        await asyncio.to_thread(wait_for_requests, receiver, "/b", 1)
        crashed.cancel()  # the process dies with feed-b's send unconfirmed
        with pytest.raises(asyncio.CancelledError):
            await crashed
        gate.set()

        restarted = outbox(store, settings, client)
        await TimerLoop(store, handler=restarted.on_timer, clock=system_clock).tick()

    histories = {
        target: [
            r.event
            for r in (await store.read_stream(delivery_stream(f"note-{unique}.r1.{target}"))).events
        ]
        for target in (f"email.users-{unique}@example.org", "webhook.feed-a", "webhook.feed-b")
    }
    mail_key = next(
        e.idempotency_key
        for e in histories[f"email.users-{unique}@example.org"]
        if isinstance(e, DeliveryAttempted)
    )
    assert len(mail_with(mail_key)) == 1
    assert len(receiver.at("/a")) == 1
    sent_to_b = receiver.at("/b")
    assert len(sent_to_b) == 2
    assert len({request.headers["Idempotency-Key"] for request in sent_to_b}) == 1
    assert len({json.loads(request.body)["id"] for request in sent_to_b}) == 1
    b_attempts = [e for e in histories["webhook.feed-b"] if isinstance(e, DeliveryAttempted)]
    assert [(a.attempt, a.resends_unconfirmed) for a in b_attempts] == [(1, False), (2, True)]
    assert all(isinstance(h[-1], DeliverySucceeded) for h in histories.values())


def wait_for_requests(receiver: Receiver, path: str, count: int) -> None:
    with receiver.arrived:
        if not receiver.arrived.wait_for(
            lambda: len([r for r in receiver.requests if r.path == path]) >= count, timeout=30
        ):
            raise TimeoutError(f"{count} requests to {path} did not arrive")


async def test_lts_comms_outbox_lists_the_delivery_and_the_mail_that_arrived(
    infra: Infrastructure, store: PostgresEventStore, receiver: Receiver, unique: str
) -> None:
    settings = replace_hooks(settings_for(infra, receiver, unique))
    async with httpx.AsyncClient() as client:
        delivering = outbox(store, settings, client)
        await delivering.on_document_released(await release(store, released(f"note-{unique}")))
        await TimerLoop(store, handler=delivering.on_timer, clock=system_clock).tick()

    shown = await shown_by_the_cli(store.schema, until=delivered)

    [delivery] = shown["deliveries"]
    assert (delivery["status"], delivery["channel"], delivery["attempts"]) == (
        "delivered",
        "email",
        1,
    )
    assert delivery["recipient"] == f"users-{unique}@example.org"
    [mail] = [m for m in shown["maildir"] if m["to"] == f"users-{unique}@example.org"]
    assert mail["document"] == f"note-{unique} r1"


def delivered(shown: Any) -> bool:
    return any(row["status"] == "delivered" for row in shown["deliveries"])


async def shown_by_the_cli(schema: str, *, until: Callable[[Any], bool]) -> Any:
    """`lts comms outbox --json`, run until `until` holds for what it shows (the store's log
    shows a commit once no older transaction of the server is still open)."""
    async with asyncio.timeout(60):
        while True:
            result = await asyncio.to_thread(
                CliRunner().invoke, app, ["outbox", "--schema", schema, "--json"]
            )
            assert result.exit_code == 0, result.output
            shown = json.loads(result.stdout)
            if until(shown):
                return shown
            await asyncio.sleep(0.2)


def replace_hooks(settings: DeliverySettings) -> DeliverySettings:
    return settings.model_copy(update={"webhooks": ()})
