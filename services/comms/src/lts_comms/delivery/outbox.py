"""The outbox's shell: plan a released revision's deliveries, then, when a delivery's durable
timer is due, store the attempt, send, and store the outcome (with the next timer, if any).

Order of writes, and what a crash leaves:
1. `DeliveriesPlanned` and one timer per delivery commit together, with the Kafka message of
   `DocumentReleased` marked processed: a redelivered message plans nothing twice.
2. `DeliveryAttempted` commits before the send; the timer stays unfired.
3. The outcome commits with the timer marked fired (and the retry's timer scheduled).
A crash between 2 and 3 leaves the timer unfired: it fires again after the restart, finds an
attempt without an outcome and sends the same message again with the same idempotency key
(`resends_unconfirmed`). A crash before 2 sends nothing; after 3, nothing is left to send."""

from __future__ import annotations

from datetime import datetime

from lts_events.actors import Actor, automation
from lts_events.clock import Clock
from lts_events.consumer import Inbound
from lts_events.contracts.comms.delivery import (
    Channel,
    DeliveriesPlanned,
    DeliveryAttempted,
    DeliveryTarget,
    delivery_stream,
    outbox_stream,
)
from lts_events.contracts.comms.documents import DocumentReleased, document_stream
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import ANY, EventStore, Timer

from lts_comms.delivery.channels import Channels
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.domain import (
    Route,
    Send,
    conclude,
    delivery_id,
    fold,
    idempotency_key,
    next_step,
    plan_targets,
)

TIMER_KIND = "delivery"


def routes_of(settings: DeliverySettings) -> tuple[Route, ...]:
    chat = (
        Route(Channel(hook.flavour), hook.name, hook.audience.value, hook.kinds)
        for hook in settings.chat_webhooks
    )
    signed = (
        Route(Channel.WEBHOOK, hook.name, hook.audience.value, hook.kinds)
        for hook in settings.webhooks
    )
    return (*chat, *signed)


class Outbox:
    def __init__(
        self,
        store: EventStore,
        *,
        channels: Channels,
        settings: DeliverySettings,
        clock: Clock,
        consumer: str,
    ) -> None:
        self._store = store
        self._channels = channels
        self._settings = settings
        self._policy = settings.retry_policy()
        self._routes = routes_of(settings)
        self._clock = clock
        self._consumer = consumer
        self._actor: Actor = automation("comms")

    # -- planning --------------------------------------------------------------------------

    async def on_document_released(self, inbound: Inbound[DocumentReleased]) -> None:
        released = inbound.event
        now = self._clock()
        targets = plan_targets(released, mail_lists=self._settings.mail_lists, routes=self._routes)
        planned = DeliveriesPlanned(
            document_id=released.document_id,
            kind=released.kind,
            revision=released.revision,
            audience=released.audience,
            targets=targets,
            planned_at=now,
        )
        timers = [self._timer(released, target, attempt=1, due=now) for target in targets]
        await self._store.append(
            outbox_stream(released.document_id, released.revision, released.audience),
            [self._new(planned, "a released revision is delivered to its channels")],
            expected_version=ANY,
            processed=inbound.processed,
            schedule=timers,
        )

    def _timer(
        self, released: DocumentReleased, target: DeliveryTarget, *, attempt: int, due: datetime
    ) -> Timer:
        delivery = delivery_id(released.document_id, released.revision, target)
        payload = {
            "document_id": released.document_id,
            "revision": released.revision,
            "audience": released.audience.value,
            "target": target.model_dump(mode="json"),
        }
        return Timer(
            f"deliver:{delivery}:{attempt}",
            self._consumer,
            delivery_stream(delivery),
            due,
            TIMER_KIND,
            payload,
        )

    # -- delivering ------------------------------------------------------------------------

    async def on_timer(self, timer: Timer) -> None:
        """One due try of one delivery (a `delivery` timer)."""
        target = DeliveryTarget.model_validate(timer.payload["target"])
        document_id, revision = str(timer.payload["document_id"]), int(timer.payload["revision"])
        delivery = delivery_id(document_id, revision, target)
        stream = delivery_stream(delivery)
        history = await self._store.read_stream(stream)
        state = fold(recorded.event for recorded in history.events)
        step = next_step(state, delivery=delivery, policy=self._policy, now=self._clock())
        if not isinstance(step, Send):
            ending = [self._new(step.gave_up, step.gave_up.reason)] if step.gave_up else []
            await self._store.append(
                stream, ending, expected_version=history.version, fired_timer=timer.timer_id
            )
            return
        released = await self._released(document_id, revision, str(timer.payload["audience"]))
        key = idempotency_key(delivery, mail_domain=self._settings.mail_domain)
        attempted = DeliveryAttempted(
            delivery_id=delivery,
            document_id=document_id,
            revision=revision,
            target=target,
            attempt=step.attempt,
            idempotency_key=key,
            resends_unconfirmed=step.resends_unconfirmed,
            attempted_at=self._clock(),
        )
        await self._store.append(
            stream, [self._new(attempted, None)], expected_version=history.version
        )
        result = await self._channels.send(released, target, key)
        concluded = conclude(
            result, delivery=delivery, attempt=step.attempt, policy=self._policy, now=self._clock()
        )
        retry = (
            [self._timer(released, target, attempt=step.attempt + 1, due=concluded.retry_at)]
            if concluded.retry_at is not None
            else []
        )
        await self._store.append(
            stream,
            [self._new(event, None) for event in concluded.events],
            expected_version=history.version + 1,
            schedule=retry,
            fired_timer=timer.timer_id,
        )

    async def _released(self, document_id: str, revision: int, audience: str) -> DocumentReleased:
        history = await self._store.read_stream(document_stream(document_id))
        for recorded in history.events:
            event = recorded.event
            if (
                isinstance(event, DocumentReleased)
                and event.revision == revision
                and event.audience.value == audience
            ):
                return event
        raise LookupError(f"document {document_id} r{revision} was never released to {audience}")

    def _new(self, event: Event, reason: str | None) -> NewEvent:
        return NewEvent.of(event, Metadata.trusted(actor=self._actor, reason=reason))
