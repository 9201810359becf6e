"""The severity rubric of lts-process.md, the one vocabulary every service reads severity with.

- The scale: blocker > critical > high > medium > low (`Severity`, highest first).
- The rubric's own words: "Critical: service down, data loss, remote code execution". Text that
  says so gets the label of the case (`rubric_labels`), and such a label is strong evidence.
- Keyword labels (crash, regression, security, performance, ...) are weak hints: they decide only
  when nothing stronger is known (`KEYWORD_LABEL_SEVERITY`).
- The words alerts and advisories use ('page', 'warning', 'MODERATE', 'P1', ...).
- CVSS v2, v3.x and v4.0 vectors: base score, qualitative rating, public exploit.

Intake labels tickets and guesses severities with these; triage proposes a severity with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4  # type: ignore[import-untyped]
from cvss.exceptions import CVSSError  # type: ignore[import-untyped]

from lts_events.contracts.common import Severity
from lts_events.contracts.intake import Label

# ---------------------------------------------------------------- the scale ---------------

RANK = {severity: rank for rank, severity in enumerate(reversed(Severity))}  # low 0 .. blocker 4


def highest(severities: Iterable[Severity]) -> Severity | None:
    return max(severities, key=RANK.__getitem__, default=None)


def at_least(severity: Severity, floor: Severity) -> bool:
    return RANK[severity] >= RANK[floor]


# ---------------------------------------------------------------- the rubric's words ------

RUBRIC_PHRASES: dict[Label, re.Pattern[str]] = {
    Label.SERVICE_DOWN: re.compile(
        r"\b(outages?|service (?:is |was |went |goes )?down|(?:site|server|api|app) "
        r"(?:is |was |went |goes )?down|down ?time|completely unavailable)\b",
        re.IGNORECASE,
    ),
    Label.DATA_LOSS: re.compile(
        r"\b(data[- ]loss|los[te]s? (?:all |the |my |our |some |user |customer )?data|"
        r"data (?:is |was |were |got )?(?:lost|wiped|destroyed)|data corruption|"
        r"corrupt(?:s|ed|ing)? (?:the |all |our |my |user |customer )?"
        r"(?:data|database|db|records|rows|tables|backups?)|"
        r"silently (?:dropp|delet|truncat)\w*|deleted (?:records|rows|data))\b",
        re.IGNORECASE,
    ),
    Label.REMOTE_CODE_EXECUTION: re.compile(
        r"\b(remote code execution|remote command execution|rce)\b", re.IGNORECASE
    ),
}

# Labels, the rubric's and the synonyms trackers use for them: each names a critical case.
RUBRIC_LABEL_SEVERITY: dict[str, Severity] = {
    Label.SERVICE_DOWN: Severity.CRITICAL,
    "outage": Severity.CRITICAL,
    Label.DATA_LOSS: Severity.CRITICAL,
    Label.REMOTE_CODE_EXECUTION: Severity.CRITICAL,
    "rce": Severity.CRITICAL,
}

# Weak hints: keywords in free text and tracker labels.
KEYWORD_LABEL_SEVERITY: dict[str, Severity] = {
    Label.CRASH: Severity.HIGH,
    Label.REGRESSION: Severity.HIGH,
    "exploit": Severity.HIGH,
    "public-exploit": Severity.HIGH,
    Label.SECURITY: Severity.HIGH,
    Label.CVE: Severity.HIGH,
    "major": Severity.HIGH,
    Label.PERFORMANCE: Severity.MEDIUM,
    "minor": Severity.LOW,
    "enhancement": Severity.LOW,
    "cosmetic": Severity.LOW,
    "docs": Severity.LOW,
}


def rubric_labels(*texts: str | None) -> tuple[Label, ...]:
    """The rubric's critical cases the texts name, in `RUBRIC_PHRASES` order."""
    text = "\n".join(t for t in texts if t)
    return _rubric_labels(text) if len(text) <= _CACHED_TEXT else _find_rubric(text)


def _find_rubric(text: str) -> tuple[Label, ...]:
    return tuple(label for label, pattern in RUBRIC_PHRASES.items() if pattern.search(text))


# Alerts of one rule repeat their title and description verbatim: remember short texts.
_CACHED_TEXT = 2048
_rubric_labels = lru_cache(maxsize=4096)(_find_rubric)


# ---------------------------------------------------------------- alert and advisory words

WORD_SEVERITY: dict[str, Severity] = {
    "blocker": Severity.BLOCKER,
    **dict.fromkeys(
        ("critical", "page", "emergency", "fatal", "disaster", "p0", "p1"), Severity.CRITICAL
    ),
    **dict.fromkeys(("error", "high", "major", "important", "p2"), Severity.HIGH),
    **dict.fromkeys(("warning", "warn", "medium", "moderate", "average", "p3"), Severity.MEDIUM),
    **dict.fromkeys(("info", "low", "minor", "none", "p4", "p5"), Severity.LOW),
}


def severity_from_word(word: str | None) -> Severity | None:
    """An alert's or advisory's severity word, case and spaces ignored; None when unknown."""
    return WORD_SEVERITY.get((word or "").strip().lower())


# ---------------------------------------------------------------- CVSS --------------------


@dataclass(frozen=True, slots=True)
class CvssReading:
    vector: str
    base_score: float
    severity: Severity
    public_exploit: bool


def severity_of_cvss_score(score: float) -> Severity:
    """CVSS qualitative rating: 9.0-10 critical, 7.0-8.9 high, 4.0-6.9 medium, below low."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


# "Exploit Maturity" / "Exploitability" saying an exploit is public: v2 E:POC/F/H, v3.x E:P/F/H
# (proof of concept, functional, high), v4.0 E:P/A (proof of concept, attacked).
PUBLIC_EXPLOIT_MATURITY = {
    "2": frozenset({"POC", "F", "H"}),
    "3": frozenset({"P", "F", "H"}),
    "4": frozenset({"P", "A"}),
}
_CVSS_PREFIX = re.compile(r"CVSS:(\d)\.\d+/")


@lru_cache(maxsize=4096)
def read_cvss(vector: str) -> CvssReading | None:
    """Base score of a CVSS v2 (bare or `CVSS:2.0/`-prefixed), v3.x or v4.0 vector; None when it
    does not parse."""
    text = vector.strip()
    prefix = _CVSS_PREFIX.match(text)
    major = prefix.group(1) if prefix else "2"
    try:
        if major == "4":
            parsed = CVSS4(text)
            score = float(parsed.base_score)
        elif major == "3":
            parsed = CVSS3(text)
            score = float(parsed.scores()[0])
        elif major == "2":
            parsed = CVSS2(text[prefix.end() :] if prefix else text)
            score = float(parsed.scores()[0])
        else:
            return None
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    maturity = str(parsed.metrics.get("E", "X"))
    return CvssReading(
        vector=vector,
        base_score=score,
        severity=severity_of_cvss_score(score),
        public_exploit=maturity in PUBLIC_EXPLOIT_MATURITY[major],
    )


def severity_from_vectors(vectors: Iterable[str]) -> Severity | None:
    """The rating of the highest base score among the vectors that parse."""
    scores = [r.base_score for r in map(read_cvss, vectors) if r is not None]
    return severity_of_cvss_score(max(scores)) if scores else None
