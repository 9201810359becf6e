"""The backports' shell over the in-memory store: triage's events open, close and re-deliver
without doubling anything; CI results re-assess the branch's backport; the SLA timer breaches."""

from __future__ import annotations

from datetime import timedelta

from lts_events.clock import FrozenClock
from lts_events.consumer import Inbound
from lts_events.contracts.common import Severity, ticket_stream
from lts_events.contracts.release.backports import backport_stream
from lts_events.contracts.release.ci import CiStatus, Gate, ci_stream
from lts_events.contracts.triage import BackportDecided, Decision
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.event import Event
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import ANY
from lts_release.appending import SERVICE
from lts_release.backports.handlers import RELEASE_SLA_TIMER, BackportHandlers

from ..integration.triage_feed import approved_plan
from .builders import POLICY, T0, ci_result

TICKET = 77


def shell() -> tuple[BackportHandlers, InMemoryEventStore, FrozenClock]:
    store, clock = InMemoryEventStore(), FrozenClock(T0)
    return BackportHandlers(store, policy=POLICY, clock=clock, consumer="release"), store, clock


def inbound(event: Event, message_id: str) -> Inbound[Event]:
    envelope = Envelope(
        id=message_id,
        source="lts-flow/triage",
        type=event.type,
        subject=ticket_stream(TICKET),
        data=event.to_data(),
    )
    return Inbound(envelope, event, "release", "lts.triage.events", 0, 0)


async def types_of(store: InMemoryEventStore, stream: str) -> list[str]:
    history = await store.read_stream(stream)
    return [r.type.removeprefix("lts.release.") for r in history.events]


async def approve(handlers: BackportHandlers, *, severity: Severity = Severity.HIGH) -> None:
    for n, event in enumerate(approved_plan(TICKET, T0, severity=severity)):
        await handlers.on_triage(inbound(event, f"m{n}"))


async def test_an_approved_plan_opens_one_backport_per_line_once_even_when_redelivered() -> None:
    handlers, store, _ = shell()

    await approve(handlers)
    await approve(handlers)  # the same messages again

    assert await types_of(store, backport_stream(TICKET, "1.4")) == ["backport_opened"]
    assert await types_of(store, backport_stream(TICKET, "1.3")) == ["backport_opened"]
    assert await types_of(store, ticket_stream(TICKET)) == [
        "ticket_noted",
        "ticket_severity_noted",
        "backport_plan_noted",
        "plan_approval_noted",
    ]
    state, _, _ = await handlers.load((TICKET, "1.4"))
    assert state.terms is not None
    assert state.terms.release_deadline == T0 + timedelta(days=7)
    assert state.terms.cve_ids == ("CVE-2026-12345",)


async def test_a_rejection_after_approval_closes_every_line() -> None:
    handlers, _, _ = shell()
    await approve(handlers)
    rejected = BackportDecided(
        ticket_id=TICKET,
        decision=Decision.REJECT,
        reason="not reproducible on LTS",
        rule="manual",
        decided_by="tessa",
        decided_at=T0,
        revisit_at=None,
    )

    await handlers.on_triage(inbound(rejected, "reject"))

    for line in ("1.4", "1.3"):
        state, _, _ = await handlers.load((TICKET, line))
        assert state.closed is not None
        assert state.closed.cause == "rejected"


async def test_a_ci_result_reassesses_only_its_branch_s_backport() -> None:
    handlers, store, _ = shell()
    await approve(handlers)
    branch = f"lts/v1.4/issue-{TICKET}"
    result = ci_result(Gate.UNIT, "d" * 40, branch=branch)
    metadata = Metadata.trusted(actor=SERVICE)
    await store.append(ci_stream(branch), [NewEvent.of(result, metadata)], expected_version=ANY)

    await handlers.on_ci_result(inbound(result, "ci-1"))  # type: ignore[arg-type]
    state, report, _ = await handlers.load((TICKET, "1.4"))
    other, _, _ = await handlers.load((TICKET, "1.3"))

    assert report.commit == "d" * 40
    assert state.ready is None
    assert other.terms is not None
    assert (await handlers.branch_runs(other.terms.patch_branch)).head is None


async def test_the_release_sla_timer_breaches_an_unreleased_backport() -> None:
    handlers, store, _ = shell()
    await approve(handlers, severity=Severity.CRITICAL)
    due = await store.due_timers(now=T0 + timedelta(days=4))
    [timer] = [t for t in due if t.stream_id == backport_stream(TICKET, "1.4")]
    assert timer.kind == RELEASE_SLA_TIMER

    await handlers.on_release_sla(timer)

    assert (await types_of(store, backport_stream(TICKET, "1.4")))[-1] == "release_sla_breached"
    assert timer.due_at == T0 + timedelta(days=3)


async def test_a_shell_that_keeps_a_branch_s_runs_reports_as_a_fresh_one_does() -> None:
    """The shell keeps each branch's gate runs between messages and reads only what was
    appended since: results recorded by another writer in between (another replica, the HTTP
    path) count as if everything had been read again."""
    handlers, store, clock = shell()
    await approve(handlers)
    branch = f"lts/v1.4/issue-{TICKET}"
    metadata = Metadata.trusted(actor=SERVICE)
    head = "e" * 40
    steps = [
        (Gate.UNIT, CiStatus.RUNNING, True),
        (Gate.UNIT, CiStatus.PASSED, False),  # recorded behind the shell's back
        (Gate.LINT, CiStatus.PASSED, True),
        (Gate.INTEGRATION, CiStatus.FAILED, False),
        (Gate.INTEGRATION, CiStatus.PASSED, True),
    ]
    for n, (gate, status, delivered) in enumerate(steps):
        result = ci_result(gate, head, status, at=T0 + timedelta(minutes=n), branch=branch)
        await store.append(ci_stream(branch), [NewEvent.of(result, metadata)], expected_version=ANY)
        if delivered:
            await handlers.on_ci_result(inbound(result, f"ci-{n}"))  # type: ignore[arg-type]
        fresh = BackportHandlers(store, policy=POLICY, clock=clock, consumer="release")

        _, kept, _ = await handlers.load((TICKET, "1.4"), branch=branch)
        _, read_again, _ = await fresh.load((TICKET, "1.4"), branch=branch)

        assert kept == read_again
        assert await handlers.branch_runs(branch) == await fresh.branch_runs(branch)
