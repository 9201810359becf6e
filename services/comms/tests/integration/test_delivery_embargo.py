"""The outbox never sends an advisory under embargo to an external channel, whatever it is
handed (the documents side's rule, `lts_comms.embargo` through the document's fold, decides):
the delivery gives up with the reason and the receiver gets nothing. A local HTTP receiver, the
in-memory store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from lts_comms.delivery.channels import Channels
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.outbox import Outbox
from lts_events.actors import automation
from lts_events.clock import system_clock
from lts_events.consumer import Inbound
from lts_events.contracts.comms.delivery import DeliveryGaveUp, DeliverySucceeded, delivery_stream
from lts_events.contracts.comms.documents import (
    DocumentDrafted,
    DocumentKind,
    DocumentReleased,
    EmbargoLifted,
    RevisionCause,
    document_stream,
)
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ANY
from lts_events.timers import TimerLoop

from ..delivery_examples import RELEASED_AT, released
from .receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def drafted(advisory: DocumentReleased) -> DocumentDrafted:
    return DocumentDrafted(
        document_id=advisory.document_id,
        kind=advisory.kind,
        revision=advisory.revision,
        audience=advisory.audience,
        title=advisory.title,
        renderings=advisory.renderings,
        template="security_advisory.md.j2",
        facts={},
        cause=RevisionCause.DRAFTED,
        drafted_by="lts-comms",
        drafted_at=RELEASED_AT,
    )


async def deliver(history: list[Event], receiver: Receiver) -> Event:
    """Store the document's `history`, hand its release to the outbox, run the due timers; the
    delivery's last event."""
    store = InMemoryEventStore()
    advisory = next(e for e in history if isinstance(e, DocumentReleased))
    metadata = Metadata.trusted(actor=automation("comms"))
    stream = document_stream(advisory.document_id)
    await store.append(stream, [NewEvent.of(e, metadata) for e in history], expected_version=ANY)
    hook = {"name": "feed", "url": receiver.url("/feed"), "secret": "s", "audience": "external"}
    settings = DeliverySettings(webhooks=(hook,))  # type: ignore[arg-type]
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="lts-flow/comms",
        type=advisory.type,
        subject=stream,
        time=advisory.released_at,
        data=advisory.to_data(),
        actorid="lts-comms",
        actorrole=metadata.actor.role,
    )
    async with httpx.AsyncClient() as client:
        outbox = Outbox(
            store,
            channels=Channels(settings, client),
            settings=settings,
            clock=system_clock,
            consumer="comms",
        )
        await outbox.on_document_released(Inbound(envelope, advisory, "comms", "t", 0, 0))
        await TimerLoop(store, handler=outbox.on_timer, clock=system_clock).tick()
    delivery = f"{advisory.document_id}.r1.webhook.feed"
    return (await store.read_stream(delivery_stream(delivery))).events[-1].event


async def test_an_advisory_released_externally_before_its_embargo_lifted_is_not_sent(
    receiver: Receiver,
) -> None:
    advisory = released("advisory-42", kind=DocumentKind.SECURITY_ADVISORY)

    last = await deliver([drafted(advisory), advisory], receiver)

    assert isinstance(last, DeliveryGaveUp)
    assert last.reason == "refused: the advisory is under embargo"
    assert receiver.at("/feed") == []


async def test_an_advisory_whose_embargo_lifted_is_sent(receiver: Receiver) -> None:
    advisory = released("advisory-42", kind=DocumentKind.SECURITY_ADVISORY)
    lifted = EmbargoLifted(
        document_id="advisory-42",
        fix_published_at=RELEASED_AT,
        until=RELEASED_AT,
        lifted_at=RELEASED_AT,
    )

    last = await deliver([drafted(advisory), lifted, advisory], receiver)

    assert isinstance(last, DeliverySucceeded)
    assert len(receiver.at("/feed")) == 1
