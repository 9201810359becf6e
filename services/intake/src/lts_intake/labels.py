"""Automatic labels and severity guesses: data plus pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]
from lts_events.contracts.common import Severity
from lts_events.contracts.intake import Label, TicketKind

from lts_intake.model import TicketDraft

CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)

KEYWORDS: dict[Label, re.Pattern[str]] = {
    Label.SECURITY: re.compile(
        r"\b(security|vulnerab\w*|exploit\w*|xss|csrf|ssrf|sql injection|code injection|"
        r"remote code execution|rce|privilege escalation|denial[- ]of[- ]service|redos|"
        r"authentication bypass|cwe-\d+)\b",
        re.IGNORECASE,
    ),
    Label.REGRESSION: re.compile(
        r"\b(regression|regressed|used to work|worked (?:fine |well )?(?:in|before|with)|"
        r"no longer works?|stopped working|broke(?:n)? (?:after|since|in)|after upgrad\w*)\b",
        re.IGNORECASE,
    ),
    Label.CRASH: re.compile(
        r"\b(crash\w*|segfault|segmentation fault|core dump\w*|panic|fatal error|"
        r"unhandled exception|traceback|abort(?:ed)?|killed)\b",
        re.IGNORECASE,
    ),
    Label.PERFORMANCE: re.compile(
        r"\b(slow\w*|performance|latency|timeouts?|timed out|high cpu|cpu usage|memory usage|"
        r"memory leak|out of memory|oom|throughput|degrad\w*)\b",
        re.IGNORECASE,
    ),
    Label.DATA_LOSS: re.compile(
        r"\b(data[- ]loss|los[te] (?:all |the |my |some )?data|data corruption|corrupt\w*|"
        r"silently (?:dropped|deleted|truncated)|deleted (?:records|rows|data))\b",
        re.IGNORECASE,
    ),
}

_ALERT_SEVERITY: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "page": Severity.HIGH,
    "high": Severity.HIGH,
    "error": Severity.HIGH,
    "major": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "warn": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "minor": Severity.LOW,
    "low": Severity.LOW,
    "info": Severity.LOW,
    "none": Severity.LOW,
}


def severity_from_word(word: str | None) -> Severity | None:
    """An alert's or advisory's severity word ('critical', 'warning', 'MODERATE', ...)."""
    return _ALERT_SEVERITY.get((word or "").strip().lower())


def severity_from_score(score: float | None) -> Severity | None:
    """The CVSS qualitative rating of a base score (0.0 is 'none': no guess)."""
    if score is None or score <= 0:
        return None
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def cvss_base_score(vector: str) -> float | None:
    """The base score of a CVSS v2, v3.x or v4 vector; None when it does not parse."""
    try:
        if vector.startswith("CVSS:4"):
            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            return float(CVSS3(vector).scores()[0])
        return float(CVSS2(vector).scores()[0])
    except (CVSSError, ValueError, KeyError, IndexError):
        return None


def severity_from_vectors(vectors: Iterable[str]) -> Severity | None:
    scores = [s for s in (cvss_base_score(v) for v in vectors) if s is not None]
    return severity_from_score(max(scores)) if scores else None


def cve_ids_in(*texts: str | None) -> list[str]:
    found: dict[str, None] = {}
    for text in texts:
        for match in CVE_ID.finditer(text or ""):
            found[match.group(0).upper()] = None
    return list(found)


def automatic_labels(draft: TicketDraft, *, has_traceback: bool = False) -> list[str]:
    """Labels from the ticket's fields and keywords in its free text."""
    labels: list[str] = []
    if draft.kind is TicketKind.SECURITY or draft.cve_ids or draft.cvss_vectors:
        labels.append(Label.SECURITY)
    if draft.cve_ids:
        labels.append(Label.CVE)
    if has_traceback:
        labels.append(Label.CRASH)
    text = "\n".join(
        t or "" for t in (draft.title, draft.description, draft.logs, draft.reproduction_steps)
    )
    found = _keyword_labels_cached(text) if len(text) <= _CACHED_TEXT else keyword_labels(text)
    labels += [label for label in found if label not in labels]
    return [str(label) for label in labels]


def keyword_labels(text: str) -> tuple[Label, ...]:
    """The labels whose keywords occur in `text`, in `KEYWORDS` order."""
    return tuple(label for label, pattern in KEYWORDS.items() if pattern.search(text))


# Alerts of one rule repeat their title and description verbatim, and the keyword search is
# most of standardizing one: remember the answer for short texts.
_CACHED_TEXT = 2048
_keyword_labels_cached = lru_cache(maxsize=4096)(keyword_labels)
