from __future__ import annotations

from datetime import timedelta

from lts_events.actors import Role
from lts_events.contracts.common import Severity
from lts_events.contracts.release.backports import (
    BackportClosed,
    BackportReady,
    BackportReopened,
    BackportRequestRefused,
    PostFactoAuditFlagged,
    RefusalKind,
    ReleaseSlaBreached,
    SignOffKind,
    SignOffRecorded,
)
from lts_events.contracts.release.ci import Gate
from lts_events.event import Event
from lts_release.backports.domain import (
    ApproveQaException,
    BackportState,
    Close,
    Command,
    Decided,
    FireReleaseSla,
    MarkReleased,
    Open,
    Reassess,
    Replan,
    SignOff,
    decide,
    evolve,
    fold,
    report_for,
)
from lts_release.backports.gates import BranchRuns

from .builders import KEY, T0, all_green, ci_result, opened, runs

HEAD = "a" * 40
QA = frozenset({Role.QA})
SECURITY = frozenset({Role.SECURITY_REVIEWER})
LEAD = frozenset({Role.ENGINEERING_LEAD})


def run(
    state: BackportState, command: Command, branch: BranchRuns
) -> tuple[BackportState, Decided]:
    decided = decide(state, command, report=report_for(state, branch), now=T0, key=KEY)
    for event in decided.events:
        state = evolve(state, event)
    return state, decided


def of_type(decided: Decided, kind: type[Event]) -> list[Event]:
    return [e for e in decided.events if isinstance(e, kind)]


def qa_sign_off(commit: str | None = None) -> SignOff:
    return SignOff(SignOffKind.QA, "quinn", QA, commit=commit)


def test_green_gates_alone_do_not_make_a_backport_ready() -> None:
    state = fold([opened()])

    _, decided = run(state, Reassess(), all_green(HEAD))

    assert decided.events == []


def test_qa_sign_off_on_green_gates_makes_it_ready_with_the_gate_evidence() -> None:
    state = fold([opened()])

    _, decided = run(state, qa_sign_off(), all_green(HEAD))

    [ready] = of_type(decided, BackportReady)
    assert isinstance(ready, BackportReady)
    assert ready.commit == HEAD
    assert ready.qa_signed_by == "quinn"
    assert [g.gate for g in ready.gates] == [
        Gate.LINT,
        Gate.UNIT,
        Gate.INTEGRATION,
        Gate.REGRESSION,
    ]
    assert all(g.run_url for g in ready.gates)


def test_a_newer_commit_re_opens_a_ready_backport() -> None:
    state, _ = run(fold([opened()]), qa_sign_off(), all_green(HEAD))
    newer = runs(*(ci_result(g, HEAD) for g in Gate), ci_result(Gate.UNIT, "b" * 40))

    state, decided = run(state, Reassess(), newer)

    [reopened] = of_type(decided, BackportReopened)
    assert isinstance(reopened, BackportReopened)
    assert reopened.commit == "b" * 40
    assert "QA sign-off of " + "b" * 40 in reopened.missing
    assert state.ready is None


def test_a_security_sensitive_backport_also_needs_the_security_sign_off() -> None:
    state, decided = run(fold([opened(security=True)]), qa_sign_off(), all_green(HEAD))
    assert of_type(decided, BackportReady) == []

    _, decided = run(state, SignOff(SignOffKind.SECURITY, "sam", SECURITY), all_green(HEAD))

    [ready] = of_type(decided, BackportReady)
    assert isinstance(ready, BackportReady)
    assert ready.security_signed_by == "sam"


def test_a_sign_off_without_the_role_is_refused_and_recorded() -> None:
    state = fold([opened(security=True)])

    _, decided = run(state, SignOff(SignOffKind.SECURITY, "quinn", QA), all_green(HEAD))

    assert decided.refusal is not None
    assert decided.refusal.kind is RefusalKind.FORBIDDEN
    [refused] = decided.events
    assert isinstance(refused, BackportRequestRefused)
    assert refused.actor == "quinn"


def test_a_sign_off_of_another_commit_than_the_head_is_refused() -> None:
    _, decided = run(fold([opened()]), qa_sign_off(commit="c" * 40), all_green(HEAD))

    assert decided.refusal is not None
    assert decided.refusal.kind is RefusalKind.CONFLICT
    assert of_type(decided, SignOffRecorded) == []


def test_a_sign_off_before_any_ci_result_is_refused() -> None:
    _, decided = run(fold([opened()]), qa_sign_off(), BranchRuns())

    assert decided.refusal is not None
    assert "no CI result" in decided.refusal.reason


def test_an_engineering_lead_s_exception_stands_in_for_qa() -> None:
    state = fold([opened()])

    _, decided = run(state, ApproveQaException("lee", LEAD, "QA rota empty"), all_green(HEAD))

    [ready] = of_type(decided, BackportReady)
    assert isinstance(ready, BackportReady)
    assert ready.qa_exception_by == "lee"


def test_only_an_engineering_lead_may_approve_the_qa_exception() -> None:
    _, decided = run(fold([opened()]), ApproveQaException("quinn", QA, "busy"), all_green(HEAD))

    assert decided.refusal is not None
    assert decided.refusal.kind is RefusalKind.FORBIDDEN


def test_an_emergency_is_ready_on_the_essential_gates_and_flagged_for_audit_once() -> None:
    essential = runs(ci_result(Gate.UNIT, HEAD), ci_result(Gate.REGRESSION, HEAD))
    state = fold([opened(emergency=True)])

    state, decided = run(state, qa_sign_off(), essential)
    _, again = run(state, Reassess(), essential)

    [ready] = of_type(decided, BackportReady)
    assert isinstance(ready, BackportReady)
    assert ready.fast_tracked
    assert ready.skipped_gates == (Gate.LINT, Gate.INTEGRATION)
    [flagged] = of_type(decided, PostFactoAuditFlagged)
    assert isinstance(flagged, PostFactoAuditFlagged)
    assert flagged.skipped_gates == (Gate.LINT, Gate.INTEGRATION)
    assert again.events == []


def test_a_normal_backport_does_not_skip_gates() -> None:
    essential = runs(ci_result(Gate.UNIT, HEAD), ci_result(Gate.REGRESSION, HEAD))

    _, decided = run(fold([opened()]), qa_sign_off(), essential)

    assert of_type(decided, BackportReady) == []


def test_a_closed_backport_refuses_sign_offs() -> None:
    state, _ = run(fold([opened()]), Close("ticket_closed", "advisory withdrawn"), BranchRuns())

    _, decided = run(state, qa_sign_off(), all_green(HEAD))

    assert decided.refusal is not None
    assert decided.refusal.kind is RefusalKind.CONFLICT


def test_closing_a_ready_backport_takes_it_out_of_readiness() -> None:
    state, _ = run(fold([opened()]), qa_sign_off(), all_green(HEAD))

    state, decided = run(state, Close("rejected", "re-triage reject"), all_green(HEAD))

    assert [type(e) for e in decided.events] == [BackportClosed]
    assert state.ready is None


def test_a_new_plan_revision_re_opens_until_it_is_approved() -> None:
    state, _ = run(fold([opened()]), qa_sign_off(), all_green(HEAD))

    state, replanned = run(state, Replan(2), all_green(HEAD))
    state, revised = run(state, Open(opened(revision=2)), all_green(HEAD))

    assert any(isinstance(e, BackportReopened) for e in replanned.events)
    assert any(isinstance(e, BackportReady) for e in revised.events)


def test_the_release_sla_breaches_when_not_released_by_the_deadline() -> None:
    terms = opened(severity=Severity.CRITICAL)
    assert terms.release_deadline == T0 + timedelta(days=3)

    _, decided = run(fold([terms]), FireReleaseSla(terms.release_deadline), BranchRuns())

    [breached] = decided.events
    assert isinstance(breached, ReleaseSlaBreached)
    assert breached.severity is Severity.CRITICAL


def test_a_released_backport_does_not_breach_its_sla() -> None:
    terms = opened(severity=Severity.CRITICAL)
    state, _ = run(fold([terms]), MarkReleased("1.4.3", "1.4.3rc1"), BranchRuns())
    assert terms.release_deadline is not None

    _, decided = run(state, FireReleaseSla(terms.release_deadline), BranchRuns())

    assert decided.events == []


def test_an_earlier_revision_s_sla_timer_breaches_nothing() -> None:
    state = fold([opened(severity=Severity.CRITICAL)])

    _, decided = run(state, FireReleaseSla(T0 + timedelta(days=1)), BranchRuns())

    assert decided.events == []
