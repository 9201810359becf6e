"""Automatic labels: the rubric's critical cases and keyword hints found in a ticket's text.
What a label or a severity word means is `lts_events.severity` (shared with triage)."""

from __future__ import annotations

import re
from functools import lru_cache

from lts_events.contracts.intake import Label, TicketKind
from lts_events.severity import rubric_labels

from lts_intake.model import TicketDraft

CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)

# Hints only (weak evidence for severity). A pasted traceback is not a crash: an exception
# the user saw says nothing about the process dying. Data loss is one of the rubric's cases,
# found by `rubric_labels`, not here.
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
        r"\b(crash\w*|segfault|segmentation fault|core dump\w*|panic|fatal error|abort(?:ed)?|"
        r"killed)\b",
        re.IGNORECASE,
    ),
    Label.PERFORMANCE: re.compile(
        r"\b(slow\w*|performance|latency|timeouts?|timed out|high cpu|cpu usage|memory usage|"
        r"memory leak|out of memory|oom|throughput|degrad\w*)\b",
        re.IGNORECASE,
    ),
}


def cve_ids_in(*texts: str | None) -> list[str]:
    found: dict[str, None] = {}
    for text in texts:
        for match in CVE_ID.finditer(text or ""):
            found[match.group(0).upper()] = None
    return list(found)


def automatic_labels(draft: TicketDraft) -> list[str]:
    """Labels from the ticket's fields, the rubric's words and keywords in its free text."""
    labels: list[str] = []
    if draft.kind is TicketKind.SECURITY or draft.cve_ids or draft.cvss_vectors:
        labels.append(Label.SECURITY)
    if draft.cve_ids:
        labels.append(Label.CVE)
    text = "\n".join(
        t or "" for t in (draft.title, draft.description, draft.logs, draft.reproduction_steps)
    )
    found = _keyword_labels_cached(text) if len(text) <= _CACHED_TEXT else keyword_labels(text)
    labels += [label for label in (*rubric_labels(text), *found) if label not in labels]
    return [str(label) for label in labels]


def keyword_labels(text: str) -> tuple[Label, ...]:
    """The labels whose keywords occur in `text`, in `KEYWORDS` order."""
    return tuple(label for label, pattern in KEYWORDS.items() if pattern.search(text))


# Alerts of one rule repeat their title and description verbatim, and the keyword search is
# most of standardizing one: remember the answer for short texts.
_CACHED_TEXT = 2048
_keyword_labels_cached = lru_cache(maxsize=4096)(keyword_labels)
