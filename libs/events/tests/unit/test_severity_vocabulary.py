"""The one severity vocabulary every service imports: scale, words, CVSS and the rubric."""

from __future__ import annotations

import pytest
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import SeverityProposed, SeverityRule
from lts_events.event import REGISTRY
from lts_events.severity import (
    highest,
    read_cvss,
    rubric_labels,
    severity_from_word,
)


def test_the_scale_runs_from_blocker_down_to_low() -> None:
    assert [s.value for s in Severity] == ["blocker", "critical", "high", "medium", "low"]
    assert highest([Severity.CRITICAL, Severity.BLOCKER, Severity.LOW]) is Severity.BLOCKER


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("page", Severity.CRITICAL),
        ("Critical", Severity.CRITICAL),
        ("blocker", Severity.BLOCKER),
        ("MODERATE", Severity.MEDIUM),
        ("warning", Severity.MEDIUM),
        ("info", Severity.LOW),
        ("unheard-of", None),
    ],
)
def test_alert_and_advisory_words_have_one_meaning(word: str, severity: Severity | None) -> None:
    assert severity_from_word(word) is severity


@pytest.mark.parametrize(
    ("vector", "score", "severity"),
    [
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, Severity.HIGH),  # CVSS v2, no prefix
        ("CVSS:2.0/AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, Severity.CRITICAL),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity.CRITICAL),
        ("CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N", 2.6, Severity.LOW),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, Severity.CRITICAL),
    ],
)
def test_cvss_v2_v3_and_v4_vectors_are_all_read(
    vector: str, score: float, severity: Severity
) -> None:
    reading = read_cvss(vector)

    assert reading is not None
    assert (reading.base_score, reading.severity) == (score, severity)


@pytest.mark.parametrize("vector", ["not a vector", "CVSS:2.0/whatever", "CVSS:9.0/AV:N"])
def test_a_vector_that_does_not_parse_is_no_reading(vector: str) -> None:
    assert read_cvss(vector) is None


def test_a_v2_vector_with_a_proof_of_concept_means_a_public_exploit() -> None:
    reading = read_cvss("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC/RL:OF/RC:C")

    assert reading is not None
    assert reading.public_exploit


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Remote code execution via crafted pickle in cache loader", ("remote-code-execution",)),
        ("RCE in the template engine", ("remote-code-execution",)),
        ("Outage: all API calls fail with a timeout", ("service-down",)),
        ("The service is down after the upgrade", ("service-down",)),
        ("Migration silently deleted rows: data loss", ("data-loss",)),
        ("Upgrade corrupted the database", ("data-loss",)),
        ("Unclear error for corrupted config file", ()),
        ("Slow dashboard when the cache is cold", ()),
    ],
)
def test_the_rubrics_critical_words_are_recognised(text: str, labels: tuple[str, ...]) -> None:
    assert rubric_labels(text) == labels


def test_a_proposal_stored_before_the_rule_was_recorded_reads_as_unrecorded() -> None:
    stored = {
        "ticket_id": 1,
        "severity": "high",
        "evidence": [{"source": "label", "value": "crash", "severity": "high"}],
        "security": False,
        "public_exploit": False,
        "triage_deadline": "2026-11-19T10:00:00Z",
        "proposed_at": "2026-11-18T10:00:00Z",
    }

    proposed = REGISTRY.decode(SeverityProposed.type, 1, stored)

    assert isinstance(proposed, SeverityProposed)
    assert proposed.rule is SeverityRule.UNRECORDED
