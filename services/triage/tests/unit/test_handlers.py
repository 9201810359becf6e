"""The async shell over the in-memory store: idempotent consumption, timers scheduled, metadata."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lts_events.actors import Role
from lts_events.clock import FrozenClock
from lts_events.contracts.common import Severity, TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ProcessedMessage
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
    assert [e.metadata.actor.role for e in history.events] == [Role.AUTOMATION] * 3
    assert all(e.metadata.reason for e in history.events)
    assert history.events[0].metadata.correlation_id == "corr-1"
    assert history.events[-1].data["severity"] == Severity.HIGH.value
