"""Kafka subscriptions of the triage service: decode and hand to the handler shell, nothing else."""

from __future__ import annotations

from lts_events.consumer import Subscriptions
from lts_events.contracts.intake import AdvisoryWithdrawn, TicketLabelled, TicketOpened
from lts_events.store.port import EventStore

from lts_triage.handlers import TriageHandlers

INTAKE_TOPIC = "lts.intake.events"


def triage_subscriptions(
    handlers: TriageHandlers,
    *,
    consumer: str,
    store: EventStore,
    intake_topic: str = INTAKE_TOPIC,
) -> Subscriptions:
    subscriptions = Subscriptions(consumer, store=store, topics={INTAKE_TOPIC: intake_topic})
    # a batch at a time: new tickets are appended together; every append carries its
    # processed message, so the append itself makes a redelivery a no-op
    subscriptions.on_batch(
        (TicketOpened, TicketLabelled, AdvisoryWithdrawn), handlers.on_intake_batch
    )
    return subscriptions
