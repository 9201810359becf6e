from __future__ import annotations

import pytest
from lts_events.contracts.release.ci import Gate
from lts_release.ci.gates import DEFAULT_GATE_RULES, GateMap, GateRule
from lts_release.config import Settings
from pydantic import ValidationError

DEFAULTS = GateMap.of(DEFAULT_GATE_RULES)


@pytest.mark.parametrize(
    ("job", "gate"),
    [
        ("lint", Gate.LINT),
        ("Octocoders-linter", Gate.LINT),
        ("ruff check", Gate.LINT),
        ("unit (3.11)", Gate.UNIT),
        ("pytest", Gate.UNIT),
        ("integration-tests", Gate.INTEGRATION),
        ("backport-regression", Gate.REGRESSION),
        ("security_regression", Gate.REGRESSION),  # triage's test name: a regression suite
        ("bandit", Gate.SECURITY_SCAN),
        ("semgrep / sast", Gate.SECURITY_SCAN),
        ("pip-audit", Gate.DEPENDENCY_SCAN),
        ("dependency_scan", Gate.DEPENDENCY_SCAN),
        ("perf-smoke", Gate.PERFORMANCE_SMOKE),
        ("build-image", None),
        ("Pipeline for branch: master", None),
    ],
)
def test_default_patterns_map_common_job_names(job: str, gate: Gate | None) -> None:
    assert DEFAULTS.gate_for(job) is gate


def test_globs_match_the_whole_name_and_regexes_search() -> None:
    gates = GateMap.of(
        [
            GateRule(gate=Gate.LINT, patterns=["lint"]),
            GateRule(gate=Gate.UNIT, patterns=[r"re:\bunit\b"]),
        ]
    )

    assert gates.gate_for("LINT") is Gate.LINT
    assert gates.gate_for("prelint") is None
    assert gates.gate_for("tests: unit (py3.12)") is Gate.UNIT
    assert gates.gate_for("community") is None


def test_the_first_matching_rule_wins() -> None:
    gates = GateMap.of(
        [
            GateRule(gate=Gate.SECURITY_SCAN, patterns=["*scan*"]),
            GateRule(gate=Gate.DEPENDENCY_SCAN, patterns=["*dependency*"]),
        ]
    )

    assert gates.gate_for("dependency-scan") is Gate.SECURITY_SCAN


def test_patterns_are_configured_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LTS_RELEASE_CI_GATE_PATTERNS", '[{"gate": "unit", "patterns": ["re:^tox -e py"]}]'
    )

    gates = GateMap.of(Settings().ci_gate_patterns)

    assert gates.gate_for("tox -e py311") is Gate.UNIT
    assert gates.gate_for("lint") is None


def test_a_bad_regular_expression_or_gate_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LTS_RELEASE_CI_GATE_PATTERNS", '[{"gate": "unit", "patterns": ["re:("]}]')
    with pytest.raises(ValidationError, match="not a regular expression"):
        Settings()
    monkeypatch.setenv("LTS_RELEASE_CI_GATE_PATTERNS", '[{"gate": "fuzz", "patterns": ["*"]}]')
    with pytest.raises(ValidationError):
        Settings()
