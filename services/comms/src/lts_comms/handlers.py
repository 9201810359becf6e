"""The async shell: note the facts an input brings (with its processed message), nothing else
yet."""

from __future__ import annotations

from lts_events.actors import automation
from lts_events.clock import Clock
from lts_events.consumer import Inbound
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.comms.facts import TicketFactsNoted, release_stream
from lts_events.envelope import NewEvent
from lts_events.event import Event
from lts_events.store.port import ANY, EventStore

from lts_comms.inputs import Facts, facts_of

CONSUMER = "comms"


def facts_stream(facts: Facts) -> str:
    if isinstance(facts, TicketFactsNoted):
        return ticket_stream(facts.ticket_id)
    return release_stream(facts.release_id)


class CommsHandlers:
    def __init__(self, store: EventStore, *, clock: Clock, consumer: str = CONSUMER) -> None:
        self.store = store
        self.clock = clock
        self.consumer = consumer

    async def on_input(self, inbound: Inbound[Event]) -> None:
        facts = facts_of(inbound.event, now=self.clock())
        if facts is None:
            return
        metadata = inbound.follow_up(actor=automation(self.consumer))
        await self.store.append(
            facts_stream(facts),
            [NewEvent.of(facts, metadata)],
            expected_version=ANY,
            processed=inbound.processed,
        )
