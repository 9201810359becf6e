"""Kafka subscriptions of the triage service: decode and hand to the handler shell, nothing else."""

from __future__ import annotations

from lts_events.consumer import Subscriptions
from lts_events.contracts.intake import TicketLabelled, TicketOpened
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
    # both handlers only append, with the processed message: the append itself dedups
    subscriptions.on(TicketOpened, handlers.on_ticket_opened, append_dedups=True)
    subscriptions.on(TicketLabelled, handlers.on_ticket_labelled, append_dedups=True)
    return subscriptions
