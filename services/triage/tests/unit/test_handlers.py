"""The async shell over the in-memory store: idempotent consumption, timers scheduled, metadata."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lts_events.actors import Role
from lts_events.clock import FrozenClock
from lts_events.consumer import Inbound
from lts_events.contracts.common import Severity, TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketLabelled, TicketOpened
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import Checkpoint, ProcessedMessage, StreamHistory
from lts_triage.domain import FireTimer, ReceiveTicket
from lts_triage.handlers import Origin, TriageHandlers
from lts_triage.policy import LtsLine, Policy

T0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
POLICY = Policy(lines=(LtsLine("1.4", date(2028, 12, 31)),))
CVSS = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"


def ticket(ticket_id: int = 5, **overrides: object) -> TicketOpened:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "title": "t",
        "source": TicketSource.OSV,
        "kind": TicketKind.SECURITY,
        "affected_versions": ["1.4.0"],
        "opened_at": T0,
    }
    values.update(overrides)
    return TicketOpened(**values)  # type: ignore[arg-type]


def shell() -> tuple[TriageHandlers, InMemoryEventStore, FrozenClock]:
    store, clock = InMemoryEventStore(), FrozenClock(T0)
    return TriageHandlers(store, policy=POLICY, clock=clock), store, clock


async def test_a_redelivered_message_appends_nothing() -> None:
    handlers, store, _ = shell()
    origin = Origin(processed=ProcessedMessage("triage", "msg-1"))

    await handlers.execute(5, ReceiveTicket(ticket()), origin)
    await handlers.execute(5, ReceiveTicket(ticket()), origin)

    assert (await store.read_stream(ticket_stream(5))).version == 2


async def test_new_events_schedule_their_sla_timers() -> None:
    handlers, store, _ = shell()

    await handlers.execute(5, ReceiveTicket(ticket(cvss_vectors=[CVSS])))

    due = await store.due_timers(now=T0 + timedelta(days=30))
    assert sorted(timer.kind for timer in due) == ["approval_reminder", "plan_sla", "triage_sla"]
    triage_timer = next(t for t in due if t.kind == "triage_sla")
    assert triage_timer.due_at == T0 + timedelta(hours=24)


async def test_a_fired_timer_is_marked_fired_even_when_nothing_is_due() -> None:
    handlers, store, clock = shell()
    await handlers.execute(5, ReceiveTicket(ticket(cvss_vectors=[CVSS])))
    clock.advance(timedelta(days=30))

    for timer in await store.due_timers(now=clock()):
        await handlers.on_timer(timer)

    assert await store.due_timers(now=clock()) == []


async def test_events_carry_actor_and_reason_in_their_metadata() -> None:
    handlers, store, clock = shell()
    await handlers.execute(5, ReceiveTicket(ticket()), Origin(correlation_id="corr-1"))
    clock.advance(timedelta(hours=25))

    await handlers.execute(5, FireTimer("triage_sla", clock()))

    history = await store.read_stream(ticket_stream(5))
    assert [e.metadata.actor.role for e in history.events] == [Role.AUTOMATION] * 4
    assert all(e.metadata.reason for e in history.events)
    assert history.events[0].metadata.correlation_id == "corr-1"
    assert history.events[2].data["severity"] == Severity.HIGH.value


def inbound(event: Event, message_id: str, offset: int) -> Inbound[Event]:
    envelope = Envelope(
        id=message_id,
        source="lts-flow/intake",
        type=event.type,
        subject=ticket_stream(getattr(event, "ticket_id", 0)),
        data=event.to_data(),
        correlationid=f"corr-{message_id}",
    )
    return Inbound(envelope, event, "triage", "lts.intake.events", 0, offset)


def intake_messages() -> list[Inbound[Event]]:
    labelled = TicketLabelled(ticket_id=5, labels=["regression"], reason="labelled by a human")
    return [
        inbound(ticket(5), "m1", 1),  # not triaged automatically: a label proposes again
        inbound(labelled, "m2", 2),
        inbound(ticket(6), "m3", 3),
        inbound(ticket(5), "m1", 4),  # a redelivery
        inbound(ticket(7, cvss_vectors=[CVSS]), "m5", 5),
    ]


async def test_a_batch_of_intake_events_stores_what_handling_them_one_by_one_stores() -> None:
    one_by_one, alone_store, _ = shell()
    for message in intake_messages():
        match message.event:
            case TicketOpened():
                await one_by_one.on_ticket_opened(message)  # type: ignore[arg-type]
            case TicketLabelled():
                await one_by_one.on_ticket_labelled(message)  # type: ignore[arg-type]
    batched, batch_store, _ = shell()

    verdicts = await batched.on_intake_batch(intake_messages())

    def stored(history: StreamHistory) -> list[tuple[object, ...]]:
        return [
            (e.type, e.data, e.metadata.reason, e.metadata.causation_id) for e in history.events
        ]

    assert verdicts == [None] * 5
    for ticket_id in (5, 6, 7):
        alone = await alone_store.read_stream(ticket_stream(ticket_id))
        together = await batch_store.read_stream(ticket_stream(ticket_id))
        assert stored(together) == stored(alone)
    relabelled = await batch_store.read_stream(ticket_stream(5))
    assert relabelled.events[-1].metadata.causation_id == "m2"  # after ticket 5's own append


async def test_a_redelivered_batch_appends_nothing() -> None:
    handlers, store, _ = shell()
    await handlers.on_intake_batch(intake_messages())
    before = [e.event_id for e in await store.read_all(after=Checkpoint.start())]

    await handlers.on_intake_batch(intake_messages())

    assert [e.event_id for e in await store.read_all(after=Checkpoint.start())] == before
