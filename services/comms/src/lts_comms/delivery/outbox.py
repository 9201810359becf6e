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

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from lts_events.contracts.comms.documents import Audience, DocumentReleased, document_stream
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.port import ANY, NO_STREAM, ConcurrencyError, EventStore, Timer

from lts_comms import document
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
from lts_comms.delivery.outcome import Rejected

TIMER_KIND = "delivery"
_REMEMBERED_REVISIONS = 256


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A delivery as its timer names it."""

    document_id: str
    revision: int
    audience: str
    target: DeliveryTarget
    id: str
    stream: str

    @staticmethod
    def of(payload: dict[str, Any]) -> _Delivery:
        target = DeliveryTarget.model_validate(payload["target"])
        document_id, revision = str(payload["document_id"]), int(payload["revision"])
        identity = delivery_id(document_id, revision, target)
        audience = str(payload["audience"])
        return _Delivery(
            document_id, revision, audience, target, identity, delivery_stream(identity)
        )


def routes_of(settings: DeliverySettings) -> tuple[Route, ...]:
    chat = (
        Route(Channel(hook.flavour), hook.name, hook.audience, hook.kinds)
        for hook in settings.chat_webhooks
    )
    signed = (
        Route(Channel.WEBHOOK, hook.name, hook.audience, hook.kinds) for hook in settings.webhooks
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
        self._released_revisions: dict[tuple[str, int, str], DocumentReleased] = {}

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
            "attempt": attempt,
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
        delivery = _Delivery.of(timer.payload)
        if timer.payload.get("attempt") == 1 and await self._first_attempt(delivery):
            await self._send_and_conclude(delivery, attempt=1, version=1, timer=timer)
            return
        history = await self._store.read_stream(delivery.stream)
        state = fold(recorded.event for recorded in history.events)
        step = next_step(state, delivery=delivery.id, policy=self._policy, now=self._clock())
        if not isinstance(step, Send):
            ending = [self._new(step.gave_up, step.gave_up.reason)] if step.gave_up else []
            await self._store.append(
                delivery.stream,
                ending,
                expected_version=history.version,
                fired_timer=timer.timer_id,
            )
            return
        attempted = self._attempted(delivery, step)
        await self._store.append(
            delivery.stream, [self._new(attempted, None)], expected_version=history.version
        )
        await self._send_and_conclude(
            delivery, attempt=step.attempt, version=history.version + 1, timer=timer
        )

    async def _first_attempt(self, delivery: _Delivery) -> bool:
        """Store the first try without reading the stream first (it is empty unless the process
        stopped after storing a try): False, having written nothing, when it is not empty."""
        attempted = self._attempted(delivery, Send(1, resends_unconfirmed=False))
        try:
            await self._store.append(
                delivery.stream, [self._new(attempted, None)], expected_version=NO_STREAM
            )
        except ConcurrencyError:
            return False
        return True

    def _attempted(self, delivery: _Delivery, step: Send) -> DeliveryAttempted:
        return DeliveryAttempted(
            delivery_id=delivery.id,
            document_id=delivery.document_id,
            revision=delivery.revision,
            target=delivery.target,
            attempt=step.attempt,
            idempotency_key=idempotency_key(delivery.id, mail_domain=self._settings.mail_domain),
            resends_unconfirmed=step.resends_unconfirmed,
            attempted_at=self._clock(),
        )

    async def _send_and_conclude(
        self, delivery: _Delivery, *, attempt: int, version: int, timer: Timer
    ) -> None:
        released, held = await self._released(delivery)
        key = idempotency_key(delivery.id, mail_domain=self._settings.mail_domain)
        result = held or await self._channels.send(released, delivery.target, key)
        concluded = conclude(
            result, delivery=delivery.id, attempt=attempt, policy=self._policy, now=self._clock()
        )
        retry = (
            [self._timer(released, delivery.target, attempt=attempt + 1, due=concluded.retry_at)]
            if concluded.retry_at is not None
            else []
        )
        await self._store.append(
            delivery.stream,
            [self._new(event, None) for event in concluded.events],
            expected_version=version,
            schedule=retry,
            fired_timer=timer.timer_id,
        )

    async def _released(self, delivery: _Delivery) -> tuple[DocumentReleased, Rejected | None]:
        """The released revision a delivery sends, and why it must not be sent, if it must not:
        an advisory whose embargo has not lifted never goes to an external channel (the
        documents side releases it externally only after the lift; this holds even if it did
        not). Read from the document's stream once, then remembered (a released revision never
        changes, nor does a lifted embargo), so that one document's many deliveries do not read
        its stream again each."""
        key = (delivery.document_id, delivery.revision, delivery.audience)
        known = self._released_revisions.get(key)
        if known is not None:
            return known, None
        history = await self._store.read_stream(document_stream(delivery.document_id))
        events = [recorded.event for recorded in history.events]
        released = next(
            (
                event
                for event in events
                if isinstance(event, DocumentReleased)
                and (event.document_id, event.revision, event.audience.value) == key
            ),
            None,
        )
        if released is None:
            raise LookupError(
                f"document {delivery.document_id} r{delivery.revision} was never released "
                f"to {delivery.audience}"
            )
        if released.audience is Audience.EXTERNAL and document.fold(events).embargoed:
            return released, Rejected("refused: the advisory is under embargo", transient=False)
        if len(self._released_revisions) >= _REMEMBERED_REVISIONS:
            self._released_revisions.pop(next(iter(self._released_revisions)))
        self._released_revisions[key] = released
        return released, None

    def _new(self, event: Event, reason: str | None) -> NewEvent:
        return NewEvent.of(event, Metadata.trusted(actor=self._actor, reason=reason))
