"""Kafka subscriptions of the triage service: decode and hand to the handler shell, nothing else."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from lts_events.consumer import Subscriptions
from lts_events.contracts.intake import TicketLabelled, TicketOpened
from lts_events.store.port import EventStore

from lts_triage.handlers import TriageHandlers

INTAKE_TOPIC = "lts.intake.events"


class ParallelSubscriptions(Subscriptions):
    """The same subscriptions attached `instances` times: that many members of the consumer
    group in one process, each consuming its own partitions concurrently. A ticket's messages
    share a key, hence a partition, hence one member: they stay in order. Instances beyond the
    topic's partition count sit idle."""

    def __init__(
        self,
        consumer: str,
        *,
        store: EventStore,
        instances: int,
        topics: dict[str, str] | None = None,
    ) -> None:
        super().__init__(consumer, store=store, topics=topics)
        self.instances = max(1, instances)

    def attach(self, broker: KafkaBroker) -> None:
        for _ in range(self.instances):
            super().attach(broker)


def triage_subscriptions(
    handlers: TriageHandlers,
    *,
    consumer: str,
    store: EventStore,
    intake_topic: str = INTAKE_TOPIC,
    instances: int = 1,
) -> Subscriptions:
    subscriptions = ParallelSubscriptions(
        consumer, store=store, instances=instances, topics={INTAKE_TOPIC: intake_topic}
    )
    subscriptions.on(TicketOpened, handlers.on_ticket_opened)
    subscriptions.on(TicketLabelled, handlers.on_ticket_labelled)
    return subscriptions
