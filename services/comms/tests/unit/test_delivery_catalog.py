"""What the feeds are built from: the latest externally released revision of each document."""

from __future__ import annotations

from lts_comms.delivery.catalog import ReleasedCatalog
from lts_events.actors import automation
from lts_events.contracts.comms.documents import Audience, DocumentReleased, document_stream
from lts_events.envelope import Metadata, NewEvent
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ANY

from ..delivery_examples import released


async def stored(*documents: DocumentReleased) -> InMemoryEventStore:
    store = InMemoryEventStore()
    metadata = Metadata.trusted(actor=automation("comms"))
    for document in documents:
        stream = document_stream(document.document_id)
        await store.append(stream, [NewEvent.of(document, metadata)], expected_version=ANY)
    return store


async def test_a_revision_released_only_internally_is_not_in_the_catalog() -> None:
    store = await stored(released("note-1", audience=Audience.INTERNAL))

    assert await ReleasedCatalog(store).external() == []


async def test_a_later_revision_replaces_the_earlier_one_as_the_catalog_catches_up() -> None:
    first, amended = released("note-1"), released("note-1", revision=2, title="amended")
    store = await stored(first)
    catalog = ReleasedCatalog(store)
    before = await catalog.external()
    metadata = Metadata.trusted(actor=automation("comms"))
    await store.append(
        document_stream("note-1"), [NewEvent.of(amended, metadata)], expected_version=ANY
    )

    after = await catalog.external()

    assert before == [first]
    assert after == [amended]
