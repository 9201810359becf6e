"""What a parser reads out of one CI job's report, before it is mapped to a gate and recorded;
and the checks on the identifying fields every format shares (branch, commit SHA, job name)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from lts_events.contracts.release.ci import CiEvidence, CiSource, CiStatus, Gate

from lts_release.ci.errors import BadInput

# Git object names: SHA-1 (40) or SHA-256 (64) hex, abbreviated down to 7 as `git` allows.
_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")
# PostgreSQL stores neither NUL nor a lone surrogate; other control characters have no place
# in a branch or job name either.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]|[\ud800-\udfff]")
_UNSTORABLE = re.compile(r"\x00|[\ud800-\udfff]")
MAX_NAME = 200
MAX_BRANCH = 255
MAX_MESSAGE = 2000


@dataclass(frozen=True, slots=True)
class Observation:
    """One CI job's result on one commit. `key` tells it apart from the other observations of
    the same delivery (a GitLab pipeline hook carries every job of the pipeline); empty when a
    delivery carries one. `default_gate` is the gate of the format itself (a SARIF report is a
    security scan), used when no configured pattern matches the job name."""

    source: CiSource
    branch: str
    commit: str
    job: str
    status: CiStatus
    raw_status: str
    evidence: CiEvidence = field(default_factory=CiEvidence)
    repository: str | None = None
    reported_at: datetime | None = None
    key: str = ""
    default_gate: Gate | None = None


def commit_sha(value: object, field: str) -> str:
    if not isinstance(value, str) or not _COMMIT.fullmatch(value):
        raise BadInput(field, "a commit SHA of 7 to 64 hexadecimal digits is required")
    return value.lower()


def branch_name(value: object, field: str) -> str:
    """A branch as CI names it; `refs/heads/` is dropped so GitHub's and GitLab's agree."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(field, "a branch name is required")
    branch = value.strip().removeprefix("refs/heads/")
    if len(branch) > MAX_BRANCH or _CONTROL.search(branch):
        raise BadInput(field, f"not a branch name (at most {MAX_BRANCH} printable characters)")
    return branch


def job_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(field, "a job name is required")
    name = value.strip()
    if len(name) > MAX_NAME or _CONTROL.search(name):
        raise BadInput(field, f"not a job name (at most {MAX_NAME} printable characters)")
    return name


def text(value: str | None, *, limit: int = MAX_MESSAGE) -> str:
    """Free text from a report (a failure message, a finding), cut to `limit` characters, with
    what PostgreSQL cannot store replaced by U+FFFD: evidence is kept, never refused for it."""
    if not value:
        return ""
    cleaned = _UNSTORABLE.sub("\ufffd", value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "\u2026"
