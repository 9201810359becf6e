"""The severity rubric and the automatic proposal from a ticket's labels, CVSS vectors, alert
severity, the reporter's guess and its kind.

Rubric (lts-process.md, "Decision matrices & SLAs"):
- critical: service down, data loss, remote code execution;
- high: major functionality broken, exploitable security issue;
- medium: minor bug; low: enhancement, cosmetic.

Proposal rule: the highest severity among the *machine evidence* (labels of the rubric, CVSS
base scores, alert severity) wins; without machine evidence the reporter's guess is taken, then
the ticket kind (security -> high, feature -> low, otherwise medium). Every item considered is
recorded as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cvss import CVSS3, CVSS4  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import SeverityEvidence

RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}

LABEL_SEVERITY: dict[str, Severity] = {
    "service-down": Severity.CRITICAL,
    "outage": Severity.CRITICAL,
    "data-loss": Severity.CRITICAL,
    "rce": Severity.CRITICAL,
    "remote-code-execution": Severity.CRITICAL,
    "crash": Severity.HIGH,
    "regression": Severity.HIGH,
    "exploit": Severity.HIGH,
    "public-exploit": Severity.HIGH,
    "security": Severity.HIGH,
    "cve": Severity.HIGH,
    "major": Severity.HIGH,
    "performance": Severity.MEDIUM,
    "minor": Severity.LOW,
    "enhancement": Severity.LOW,
    "cosmetic": Severity.LOW,
    "docs": Severity.LOW,
}

ALERT_SEVERITY: dict[str, Severity] = {
    **dict.fromkeys(
        ("critical", "page", "emergency", "fatal", "disaster", "p0", "p1"), Severity.CRITICAL
    ),
    **dict.fromkeys(("error", "high", "major", "p2"), Severity.HIGH),
    **dict.fromkeys(("warning", "warn", "medium", "average", "p3"), Severity.MEDIUM),
    **dict.fromkeys(("info", "low", "minor", "none", "p4", "p5"), Severity.LOW),
}

KIND_SEVERITY: dict[str, Severity] = {"security": Severity.HIGH, "feature": Severity.LOW}
SECURITY_LABELS = frozenset({"security", "cve", "rce", "remote-code-execution", "exploit"})
EXPLOIT_LABELS = frozenset({"exploit", "public-exploit", "exploited", "in-the-wild"})
# CVSS "Exploit Maturity": v3.x E:P/F/H (proof of concept, functional, high) and v4.0 E:P/A
# (proof of concept, attacked) mean an exploit is public.
PUBLIC_EXPLOIT_MATURITY = {"3": frozenset({"P", "F", "H"}), "4": frozenset({"P", "A"})}


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
class CvssReading:
    vector: str
    base_score: float
    severity: Severity
    public_exploit: bool


@dataclass(frozen=True, slots=True)
class Proposal:
    severity: Severity
    evidence: tuple[SeverityEvidence, ...]
    cvss_base_score: float | None
    security: bool
    public_exploit: bool

    @property
    def machine_evidence(self) -> bool:
        """True when a CVSS vector or an alert severity backed the proposal."""
        return any(item.source in ("cvss", "alert") for item in self.evidence)


def highest(severities: Iterable[Severity]) -> Severity | None:
    ordered = sorted(severities, key=RANK.__getitem__)
    return ordered[-1] if ordered else None


def severity_of_cvss_score(score: float) -> Severity:
    """CVSS qualitative rating: 9.0-10 critical, 7.0-8.9 high, 4.0-6.9 medium, below low."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


@lru_cache(maxsize=4096)
def read_cvss(vector: str) -> CvssReading | None:
    """Base score of a CVSS v3.x or v4.0 vector (None when it does not parse)."""
    major = _cvss_major(vector)
    try:
        if major == "4":
            parsed = CVSS4(vector)
        elif major == "3":
            parsed = CVSS3(vector)
        else:
            return None
    except (CVSSError, ValueError, KeyError):
        return None
    score = float(parsed.base_score)
    maturity = str(parsed.metrics.get("E", "X"))
    return CvssReading(
        vector=vector,
        base_score=score,
        severity=severity_of_cvss_score(score),
        public_exploit=maturity in PUBLIC_EXPLOIT_MATURITY[major],
    )


_CVSS_PREFIX = re.compile(r"CVSS:(\d)\.\d+/")


def _cvss_major(vector: str) -> str | None:
    found = _CVSS_PREFIX.match(vector.strip())
    return found.group(1) if found else None


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
    readings = [r for r in (read_cvss(v) for v in vectors) if r is not None]
    machine = [
        *_label_evidence(labels),
        *_cvss_evidence(readings),
        *_alert_evidence(alert_severity),
    ]
    fallback = _fallback_items(kind, guess)
    decisive = machine or fallback[:1]
    severity = highest(item.severity for item in decisive) or Severity.MEDIUM
    return Proposal(
        severity=severity,
        evidence=(*machine, *fallback),
        cvss_base_score=max((r.base_score for r in readings), default=None),
        security=_is_security(kind, labels, vectors, has_cve=has_cve),
        public_exploit=any(r.public_exploit for r in readings) or bool(EXPLOIT_LABELS & {*labels}),
    )


# The evidence items below come from small vocabularies (rubric labels, parsed vectors, alert
# levels, guesses, kinds), so each distinct item is built and validated once and then shared:
# `SeverityEvidence` is a frozen model.


def _label_evidence(labels: Sequence[str]) -> list[SeverityEvidence]:
    return [_label_item(label) for label in labels if label in LABEL_SEVERITY]


@lru_cache(maxsize=len(LABEL_SEVERITY))
def _label_item(label: str) -> SeverityEvidence:
    return SeverityEvidence(source="label", value=label, severity=LABEL_SEVERITY[label])


def _cvss_evidence(readings: Sequence[CvssReading]) -> list[SeverityEvidence]:
    return [_cvss_item(r) for r in readings]


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
    if raw not in ALERT_SEVERITY:
        return []
    return [_alert_item(raw)]


@lru_cache(maxsize=len(ALERT_SEVERITY))
def _alert_item(raw: str) -> SeverityEvidence:
    return SeverityEvidence(source="alert", value=raw, severity=ALERT_SEVERITY[raw])


@lru_cache(maxsize=256, typed=True)
def _fallback_items(kind: str, guess: Severity | None) -> tuple[SeverityEvidence, ...]:
    items: list[SeverityEvidence] = []
    if guess is not None:
        items.append(SeverityEvidence(source="guess", value=guess.value, severity=guess))
    kind_severity = KIND_SEVERITY.get(kind, Severity.MEDIUM)
    items.append(SeverityEvidence(source="kind", value=kind, severity=kind_severity))
    return tuple(items)


def _is_security(
    kind: str, labels: Sequence[str], vectors: Sequence[str], *, has_cve: bool
) -> bool:
    return kind == "security" or has_cve or bool(vectors) or bool(SECURITY_LABELS & {*labels})
