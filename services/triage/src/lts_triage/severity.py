"""The automatic severity proposal from a ticket's labels, CVSS vectors, alert severity, the
reporter's explicit severity and its kind. The vocabulary (scale, the rubric's words, alert
words, CVSS) is `lts_events.severity`, shared with intake; this module holds the precedence.

Precedence (`SeverityRule`, recorded on `SeverityProposed`):
1. strong evidence: the rubric's words (labels naming service down, data loss, remote code
   execution -> critical), machine evidence (CVSS base score, the alert's severity) and the
   reporter's explicit severity. The highest of them wins; a tie goes to the first rule.
2. keyword labels (crash, performance, security, ...), only without strong evidence: they are
   hints, never above what the reporter or the rubric said.
3. the ticket's kind: security -> high, feature -> low, otherwise medium.
Every item considered is recorded as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from lts_events.contracts.common import Severity
from lts_events.contracts.triage import SeverityEvidence, SeverityRule
from lts_events.severity import (
    KEYWORD_LABEL_SEVERITY,
    RUBRIC_LABEL_SEVERITY,
    CvssReading,
    highest,
    read_cvss,
    severity_from_word,
)

KIND_SEVERITY: dict[str, Severity] = {"security": Severity.HIGH, "feature": Severity.LOW}
SECURITY_LABELS = frozenset(
    {"security", "cve", "rce", "remote-code-execution", "exploit", "public-exploit"}
)
EXPLOIT_LABELS = frozenset({"exploit", "public-exploit", "exploited", "in-the-wild"})
# Which rule an evidence source belongs to, in the order ties are broken.
_STRONG_RULES = {
    "rubric": SeverityRule.RUBRIC,
    "cvss": SeverityRule.EVIDENCE,
    "alert": SeverityRule.EVIDENCE,
    "guess": SeverityRule.REPORTER,
}


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the proposal looks at (a projection of intake's TicketOpened)."""

    kind: str
    labels: tuple[str, ...] = ()
    cve_ids: tuple[str, ...] = ()
    cvss_vectors: tuple[str, ...] = ()
    alert_severity: str | None = None
    severity_guess: Severity | None = None


@dataclass(frozen=True, slots=True)
class Proposal:
    severity: Severity
    rule: SeverityRule
    evidence: tuple[SeverityEvidence, ...]
    cvss_base_score: float | None
    security: bool
    public_exploit: bool

    @property
    def machine_evidence(self) -> bool:
        """True when a CVSS vector or an alert severity backed the proposal."""
        return any(item.source in ("cvss", "alert") for item in self.evidence)


def propose(facts: TicketFacts) -> Proposal:
    return _propose(
        facts.kind,
        tuple(label.strip().lower() for label in facts.labels),
        tuple(facts.cvss_vectors),
        facts.alert_severity,
        facts.severity_guess,
        has_cve=bool(facts.cve_ids),
    )


@lru_cache(maxsize=4096, typed=True)
def _propose(
    kind: str,
    labels: tuple[str, ...],
    vectors: tuple[str, ...],
    alert_severity: str | None,
    guess: Severity | None,
    *,
    has_cve: bool,
) -> Proposal:
    """The proposal from exactly what it depends on. Tickets repeat the same labels, vectors
    and alert levels, so a proposal is computed once per combination; `Proposal` is frozen."""
    readings = [r for r in map(read_cvss, vectors) if r is not None]
    strong = [
        *_label_evidence(labels, RUBRIC_LABEL_SEVERITY, "rubric"),
        *map(_cvss_item, readings),
        *_alert_evidence(alert_severity),
        *_guess_evidence(guess),
    ]
    keywords = _label_evidence(labels, KEYWORD_LABEL_SEVERITY, "label")
    kind_item = _kind_item(kind)
    severity, rule = _winner(strong, keywords, kind_item)
    return Proposal(
        severity=severity,
        rule=rule,
        evidence=(*strong, *keywords, kind_item),
        cvss_base_score=max((r.base_score for r in readings), default=None),
        security=_is_security(kind, labels, vectors, has_cve=has_cve),
        public_exploit=any(r.public_exploit for r in readings) or bool(EXPLOIT_LABELS & {*labels}),
    )


def _winner(
    strong: Sequence[SeverityEvidence],
    keywords: Sequence[SeverityEvidence],
    kind_item: SeverityEvidence,
) -> tuple[Severity, SeverityRule]:
    if strong:
        top = highest(item.severity for item in strong)
        first = next(item for item in strong if item.severity is top)
        return first.severity, _STRONG_RULES[first.source]
    if keywords:
        top = highest(item.severity for item in keywords)
        assert top is not None
        return top, SeverityRule.KEYWORDS
    return kind_item.severity, SeverityRule.KIND


# The evidence items below come from small vocabularies (labels, parsed vectors, alert levels,
# guesses, kinds), so each distinct item is built and validated once and then shared:
# `SeverityEvidence` is a frozen model.


def _label_evidence(
    labels: Sequence[str], table: dict[str, Severity], source: str
) -> list[SeverityEvidence]:
    return [_label_item(label, table[label], source) for label in labels if label in table]


@lru_cache(maxsize=256)
def _label_item(label: str, severity: Severity, source: str) -> SeverityEvidence:
    return SeverityEvidence.model_validate({"source": source, "value": label, "severity": severity})


@lru_cache(maxsize=4096)
def _cvss_item(r: CvssReading) -> SeverityEvidence:
    return SeverityEvidence(
        source="cvss",
        value=r.vector,
        severity=r.severity,
        detail=f"base score {r.base_score}" + (", public exploit" if r.public_exploit else ""),
    )


def _alert_evidence(alert_severity: str | None) -> list[SeverityEvidence]:
    raw = (alert_severity or "").strip().lower()
    severity = severity_from_word(raw)
    return [] if severity is None else [_alert_item(raw, severity)]


@lru_cache(maxsize=256)
def _alert_item(raw: str, severity: Severity) -> SeverityEvidence:
    return SeverityEvidence(source="alert", value=raw, severity=severity)


def _guess_evidence(guess: Severity | None) -> list[SeverityEvidence]:
    return [] if guess is None else [_guess_item(guess)]


@lru_cache(maxsize=16)
def _guess_item(guess: Severity) -> SeverityEvidence:
    return SeverityEvidence(
        source="guess", value=guess.value, severity=guess, detail="the reporter's severity"
    )


@lru_cache(maxsize=64)
def _kind_item(kind: str) -> SeverityEvidence:
    severity = KIND_SEVERITY.get(kind, Severity.MEDIUM)
    return SeverityEvidence(source="kind", value=kind, severity=severity)


def _is_security(
    kind: str, labels: Sequence[str], vectors: Sequence[str], *, has_cve: bool
) -> bool:
    return kind == "security" or has_cve or bool(vectors) or bool(SECURITY_LABELS & {*labels})
