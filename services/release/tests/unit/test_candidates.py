from __future__ import annotations

from datetime import date, timedelta

from lts_events.actors import Role
from lts_events.contracts.release.backports import SignOffKind
from lts_events.contracts.release.candidates import (
    Bump,
    CandidateOpened,
    CandidateRule,
    VersionExceptionApproved,
)
from lts_events.support import LtsLine
from lts_release.backports.domain import BackportState, SignOff, decide, evolve, fold, report_for
from lts_release.candidates.domain import Request, approve_exception, open_candidate
from lts_release.candidates.lines import LineState, LineView
from packaging.version import Version

from .builders import KEY, T0, all_green, opened

LINE = LtsLine("1.4", date(2028, 12, 31))
MANAGER = frozenset({Role.RELEASE_MANAGER})
LEAD = frozenset({Role.ENGINEERING_LEAD})
VIEW = LineView("1.4", LineState(), baseline=Version("1.4.2"))


def ready_backport() -> BackportState:
    state = fold([opened()])
    sign = SignOff(SignOffKind.QA, "quinn", frozenset({Role.QA}))
    decided = decide(state, sign, report=report_for(state, all_green()), now=T0, key=KEY)
    for event in decided.events:
        state = evolve(state, event)
    assert state.ready is not None
    return state


def request(roles: frozenset[Role] = MANAGER, line: LtsLine = LINE) -> Request:
    return Request("rita", roles, line, T0)


def test_a_candidate_gathers_the_ready_backports_with_the_next_patch_version() -> None:
    decided = open_candidate(request(), VIEW, [ready_backport(), fold([opened()])], requested=None)

    assert decided.outcome is not None
    candidate = decided.outcome.event
    assert isinstance(candidate, CandidateOpened)
    assert (candidate.candidate_id, candidate.tag, candidate.final_tag) == (
        "1.4.3rc1",
        "v1.4.3rc1",
        "v1.4.3",
    )
    assert candidate.previous_version == "1.4.2"
    assert candidate.bump is Bump.PATCH
    assert [b.ticket_id for b in candidate.backports] == [123]
    assert candidate.backports[0].commit == "a" * 40


def test_only_a_release_manager_opens_a_candidate_and_the_refusal_is_recorded() -> None:
    decided = open_candidate(
        request(frozenset({Role.QA})), VIEW, [ready_backport()], requested=None
    )

    assert decided.refusal is not None
    assert decided.refusal.rule is CandidateRule.ROLE
    assert decided.outcome is not None
    assert decided.outcome.event == decided.refusal


def test_a_line_without_ready_backports_gets_no_candidate() -> None:
    decided = open_candidate(request(), VIEW, [fold([opened()])], requested=None)

    assert decided.refusal is not None
    assert decided.refusal.rule is CandidateRule.NO_READY_BACKPORTS


def test_a_line_out_of_support_gets_no_candidate() -> None:
    ended = LtsLine("1.4", (T0 - timedelta(days=1)).date())

    decided = open_candidate(request(line=ended), VIEW, [ready_backport()], requested=None)

    assert decided.refusal is not None
    assert decided.refusal.rule is CandidateRule.LINE_OUT_OF_SUPPORT


def test_a_minor_bump_needs_the_engineering_lead_s_exception() -> None:
    refused = open_candidate(request(), VIEW, [ready_backport()], requested=Version("1.5.0"))
    exception = approve_exception(request(LEAD), VIEW, version=Version("1.5.0"), reason="API fix")
    assert exception.outcome is not None
    approved = exception.outcome.event
    assert isinstance(approved, VersionExceptionApproved)
    excepted = LineView("1.4", LineState(exceptions=(approved,)), baseline=Version("1.4.2"))

    allowed = open_candidate(request(), excepted, [ready_backport()], requested=Version("1.5.0"))

    assert refused.refusal is not None
    assert refused.refusal.rule is CandidateRule.PATCH_ONLY
    assert allowed.outcome is not None
    candidate = allowed.outcome.event
    assert isinstance(candidate, CandidateOpened)
    assert (candidate.version, candidate.bump, candidate.version_exception_by) == (
        "1.5.0",
        Bump.MINOR,
        "rita",
    )


def test_only_an_engineering_lead_approves_a_version_exception() -> None:
    decided = approve_exception(request(), VIEW, version=Version("1.5.0"), reason="please")

    assert decided.refusal is not None
    assert decided.refusal.rule is CandidateRule.EXCEPTION_ROLE
