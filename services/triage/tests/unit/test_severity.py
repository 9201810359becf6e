"""The severity rubric and the automatic proposal."""

from __future__ import annotations

import pytest
from lts_events.contracts.common import Severity
from lts_events.severity import read_cvss
from lts_triage.severity import TicketFacts, propose

RCE_V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
MEDIUM_V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 5.4
HIGH_V40_ATTACKED = "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N/E:A"


@pytest.mark.parametrize(
    ("facts", "severity"),
    [
        (TicketFacts(kind="bug", labels=("data-loss",)), Severity.CRITICAL),
        (TicketFacts(kind="bug", labels=("service-down",)), Severity.CRITICAL),
        (TicketFacts(kind="security", labels=("rce",)), Severity.CRITICAL),
        (TicketFacts(kind="bug", labels=("crash",)), Severity.HIGH),
        (TicketFacts(kind="bug", labels=("performance",)), Severity.MEDIUM),
        (TicketFacts(kind="security", cvss_vectors=(RCE_V31,)), Severity.CRITICAL),
        (TicketFacts(kind="security", cvss_vectors=(MEDIUM_V31,)), Severity.MEDIUM),
        (TicketFacts(kind="alert", alert_severity="critical"), Severity.CRITICAL),
        (TicketFacts(kind="alert", alert_severity="warning"), Severity.MEDIUM),
        (TicketFacts(kind="bug", severity_guess=Severity.LOW), Severity.LOW),
        (TicketFacts(kind="security"), Severity.HIGH),
        (TicketFacts(kind="feature"), Severity.LOW),
        (TicketFacts(kind="bug"), Severity.MEDIUM),
        (
            TicketFacts(kind="bug", labels=("performance",), severity_guess=Severity.CRITICAL),
            Severity.CRITICAL,
        ),
        (TicketFacts(kind="bug", labels=("crash",), severity_guess=Severity.LOW), Severity.LOW),
        (TicketFacts(kind="security", labels=("security",)), Severity.HIGH),
        (
            TicketFacts(kind="security", labels=("security", "remote-code-execution")),
            Severity.CRITICAL,
        ),
        (TicketFacts(kind="alert", alert_severity="page"), Severity.CRITICAL),
        (TicketFacts(kind="bug", severity_guess=Severity.BLOCKER), Severity.BLOCKER),
        (TicketFacts(kind="security", cvss_vectors=("AV:N/AC:L/Au:N/C:P/I:P/A:P",)), Severity.HIGH),
        (TicketFacts(kind="bug", labels=("crash", "data-loss")), Severity.CRITICAL),
    ],
)
def test_proposal_follows_the_rubric(facts: TicketFacts, severity: Severity) -> None:
    assert propose(facts).severity is severity


@pytest.mark.parametrize(
    ("facts", "rule"),
    [
        (TicketFacts(kind="bug", labels=("service-down", "performance")), "rubric"),
        (TicketFacts(kind="alert", labels=("performance",), alert_severity="warning"), "evidence"),
        (TicketFacts(kind="bug", labels=("crash",), severity_guess=Severity.LOW), "reporter"),
        (TicketFacts(kind="bug", labels=("crash",)), "keywords"),
        (TicketFacts(kind="feature"), "kind"),
    ],
)
def test_the_proposal_names_the_rule_that_won(facts: TicketFacts, rule: str) -> None:
    assert propose(facts).rule == rule


def test_keyword_labels_never_outrank_the_reporter() -> None:
    facts = TicketFacts(kind="bug", labels=("performance",), severity_guess=Severity.CRITICAL)

    proposal = propose(facts)

    assert (proposal.severity, proposal.rule) == (Severity.CRITICAL, "reporter")


def test_every_considered_fact_is_recorded_as_evidence() -> None:
    facts = TicketFacts(
        kind="security", labels=("cve",), cvss_vectors=(RCE_V31,), severity_guess=Severity.LOW
    )

    proposal = propose(facts)

    assert [(e.source, e.value) for e in proposal.evidence] == [
        ("cvss", RCE_V31),
        ("guess", "low"),
        ("label", "cve"),
        ("kind", "security"),
    ]
    assert proposal.cvss_base_score == 9.8
    assert proposal.machine_evidence


@pytest.mark.parametrize(
    ("vector", "score", "severity", "exploit"),
    [
        (RCE_V31, 9.8, Severity.CRITICAL, False),
        (RCE_V31 + "/E:F", 9.8, Severity.CRITICAL, True),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5, Severity.MEDIUM, False),
        (HIGH_V40_ATTACKED, 7.1, Severity.HIGH, True),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, Severity.HIGH, False),
        ("CVSS:2.0/whatever", None, None, None),
        ("not a vector", None, None, None),
    ],
)
def test_cvss_vectors_are_read_for_their_base_score(
    vector: str, score: float | None, severity: Severity | None, exploit: bool | None
) -> None:
    reading = read_cvss(vector)

    if score is None:
        assert reading is None
    else:
        assert reading is not None
        assert (reading.base_score, reading.severity, reading.public_exploit) == (
            score,
            severity,
            exploit,
        )


@pytest.mark.parametrize(
    ("facts", "security"),
    [
        (TicketFacts(kind="security"), True),
        (TicketFacts(kind="bug", cve_ids=("CVE-2026-1",)), True),
        (TicketFacts(kind="bug", labels=("Security",)), True),
        (TicketFacts(kind="bug", labels=("crash",)), False),
    ],
)
def test_security_flag(facts: TicketFacts, security: bool) -> None:
    assert propose(facts).security is security


def test_the_same_labels_with_and_without_a_cve_are_proposed_independently() -> None:
    without = TicketFacts(kind="bug", labels=("crash",))
    with_cve = TicketFacts(kind="bug", labels=("crash",), cve_ids=("CVE-2026-2",))

    assert [propose(f).security for f in (without, with_cve, without)] == [False, True, False]


def test_labels_are_compared_trimmed_and_lowercase() -> None:
    assert propose(TicketFacts(kind="bug", labels=(" Data-Loss ",))) == propose(
        TicketFacts(kind="bug", labels=("data-loss",))
    )


def test_an_exploit_label_marks_a_public_exploit() -> None:
    assert propose(TicketFacts(kind="security", labels=("public-exploit",))).public_exploit
