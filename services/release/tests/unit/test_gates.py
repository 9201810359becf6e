from __future__ import annotations

from lts_events.contracts.release.ci import CiStatus, Gate
from lts_events.support import LtsLine
from lts_release.backports.gates import GateStatus, evaluate
from lts_release.backports.policy import backport_of_branch, gates_for

from .builders import T0, all_green, ci_result, green, runs

REQUIRED = (Gate.LINT, Gate.UNIT, Gate.INTEGRATION, Gate.REGRESSION)
OLD, NEW = "1" * 40, "2" * 40


def test_a_plan_s_tests_map_to_gates_and_lint_is_always_required() -> None:
    gates = gates_for(("unit", "backport_regression", "sast", "dependency_scan"))

    assert gates == (
        Gate.LINT,
        Gate.UNIT,
        Gate.REGRESSION,
        Gate.SECURITY_SCAN,
        Gate.DEPENDENCY_SCAN,
    )


def test_the_patch_branch_triage_names_reads_back_as_its_ticket_and_line() -> None:
    branch = LtsLine("1.3", T0.date()).patch_branch(4711)

    assert backport_of_branch(branch) == (4711, "1.3")
    assert backport_of_branch("release-lts/v1.3") is None


def test_every_required_gate_passed_on_the_head_commit_passes() -> None:
    report = evaluate(REQUIRED, all_green(NEW))

    assert report.passed
    assert report.commit == NEW


def test_a_newer_commit_re_opens_the_gates_passed_on_the_older_one() -> None:
    branch = runs(*green(OLD), ci_result(Gate.UNIT, NEW))

    report = evaluate(REQUIRED, branch)

    assert report.commit == NEW
    assert not report.passed
    assert {g.gate: g.status for g in report.gates}[Gate.LINT] is GateStatus.MISSING


def test_a_re_run_on_an_older_commit_does_not_move_the_head_back() -> None:
    branch = runs(ci_result(Gate.UNIT, OLD), ci_result(Gate.UNIT, NEW), ci_result(Gate.LINT, OLD))

    assert evaluate(REQUIRED, branch).commit == NEW


def test_the_latest_result_of_a_gate_counts_and_only_passed_passes() -> None:
    branch = runs(
        ci_result(Gate.UNIT, NEW, CiStatus.PASSED),
        ci_result(Gate.UNIT, NEW, CiStatus.FAILED),
        ci_result(Gate.LINT, NEW, CiStatus.RUNNING),
    )

    states = {g.gate: g.status for g in evaluate(REQUIRED, branch).gates}

    assert states[Gate.UNIT] is GateStatus.FAILED
    assert states[Gate.LINT] is GateStatus.PENDING
    assert states[Gate.INTEGRATION] is GateStatus.MISSING


def test_a_result_of_an_unmapped_job_counts_for_no_gate() -> None:
    assert runs(ci_result(None, NEW)).head is None


def test_a_fast_track_passes_on_the_essential_gates_and_names_what_it_skipped() -> None:
    branch = runs(ci_result(Gate.UNIT, NEW), ci_result(Gate.REGRESSION, NEW))

    report = evaluate(REQUIRED, branch, fast_track=(Gate.UNIT, Gate.REGRESSION))

    assert report.passed
    assert report.skipped == (Gate.LINT, Gate.INTEGRATION)


def test_a_fast_track_still_fails_on_a_failed_essential_gate() -> None:
    branch = runs(ci_result(Gate.UNIT, NEW, CiStatus.FAILED), ci_result(Gate.REGRESSION, NEW))

    assert not evaluate(REQUIRED, branch, fast_track=(Gate.UNIT, Gate.REGRESSION)).passed
