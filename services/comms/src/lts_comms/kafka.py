"""The comms service's one consumer (`Subscriptions`): the release, triage and intake topics,
decoded and handed to the handler shell. The delivery side adds its own routes to the same
object (`lts_comms.main.build`), so the service joins its consumer group once."""

from __future__ import annotations

from lts_events.consumer import Subscriptions
from lts_events.contracts.intake import TicketOpened
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.release.rollout import RolledBack
from lts_events.contracts.triage import BackportPlanned, SeverityProposed, TicketTriaged
from lts_events.kafka import events_topic
from lts_events.store.port import EventStore

from lts_comms.config import Settings
from lts_comms.handlers import CommsHandlers

RELEASE_TOPIC = "lts.release.events"
TRIAGE_TOPIC = "lts.triage.events"
INTAKE_TOPIC = "lts.intake.events"
COMMS_TOPIC = "lts.comms.events"
"""The service's own topic: the delivery outbox acts on `DocumentReleased` from it."""

INPUTS = (
    TicketOpened,
    SeverityProposed,
    TicketTriaged,
    BackportPlanned,
    CandidateOpened,
    ReleasePublished,
    RolledBack,
)


def comms_subscriptions(
    handlers: CommsHandlers, *, consumer: str, store: EventStore, settings: Settings
) -> Subscriptions:
    subscriptions = Subscriptions(
        consumer,
        store=store,
        topics={
            RELEASE_TOPIC: settings.release_topic,
            TRIAGE_TOPIC: settings.triage_topic,
            INTAKE_TOPIC: settings.intake_topic,
            COMMS_TOPIC: events_topic(consumer),  # what the relay publishes the store to
        },
    )
    for event_class in INPUTS:
        subscriptions.on(event_class, handlers.on_input)
    return subscriptions
