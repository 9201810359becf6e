"""Release candidates and the version policy (topic `lts.release.events`). Owned by the release
service's core (`lts_release.candidates`).

A candidate lives in the stream `candidate_stream(candidate_id)`; its id is its RC tag's version,
e.g. `1.4.3rc1` (tag `v1.4.3rc1`; the final's tag is `v1.4.3`). `CandidateOpened` is its first
event; the staging, publication and rollout parts append theirs after it (their contract
modules). A line's own facts live in `line_stream(line)`: the version exceptions engineering
leads approved, refused candidate requests, and an index of its candidates and backports.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from lts_events.actors import Role
from lts_events.contracts.triage import RolloutStrategy
from lts_events.event import Event

LINE_PATTERN = r"^\d+\.\d+$"


def candidate_stream(candidate_id: str) -> str:
    return f"candidate-{candidate_id}"


def line_stream(line: str) -> str:
    """The stream of one LTS line (`"1.4"`) in the release service's store."""
    return f"line-{line}"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bump(StrEnum):
    """How a candidate's version moves from the line's last published one."""

    FIRST = "first"  # nothing published on the line yet: X.Y.0
    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"


class IncludedBackport(_Value):
    """A ready backport a candidate ships: the ticket, and the commit its gates passed on."""

    ticket_id: int
    title: str = ""
    cve_ids: tuple[str, ...] = ()
    patch_branch: str
    commit: str
    rollout_strategy: RolloutStrategy
    emergency: bool
    fast_tracked: bool


class CandidateOpened(Event):
    """A release candidate of `line`: version `version` (the final's), RC number `rc`."""

    type: ClassVar[str] = "lts.release.candidate_opened"

    candidate_id: str
    line: str = Field(pattern=LINE_PATTERN)
    version: str
    rc: int = Field(ge=1)
    tag: str = Field(description="The RC's tag, e.g. v1.4.3rc1")
    final_tag: str = Field(description="The tag the published release gets, e.g. v1.4.3")
    previous_version: str | None
    bump: Bump
    version_exception_by: str | None = Field(
        default=None, description="The engineering lead whose exception allowed a non-patch bump"
    )
    backports: tuple[IncludedBackport, ...]
    rollout_strategy: RolloutStrategy
    emergency: bool
    opened_by: str
    opened_at: datetime


class VersionExceptionApproved(Event):
    """An engineering lead allows one non-patch version on a line (stream `line-{line}`)."""

    type: ClassVar[str] = "lts.release.version_exception_approved"

    line: str = Field(pattern=LINE_PATTERN)
    version: str
    approved_by: str
    reason: str
    approved_at: datetime


class CandidateRule(StrEnum):
    """The rule a refused candidate request broke (named in the 4xx answer too)."""

    ROLE = "release-manager-only"
    EXCEPTION_ROLE = "engineering-lead-only"
    PATCH_ONLY = "patch-only"
    NO_READY_BACKPORTS = "no-ready-backports"
    VERSION_NOT_NEWER = "version-not-newer"
    OTHER_LINE = "version-of-another-line"
    LINE_OUT_OF_SUPPORT = "line-out-of-support"


class CandidateRefused(Event):
    """A refused candidate or version-exception request, for the audit (stream `line-{line}`)."""

    type: ClassVar[str] = "lts.release.candidate_refused"

    line: str
    actor: str
    held_roles: tuple[Role, ...]
    rule: CandidateRule
    requested_version: str | None
    reason: str
    refused_at: datetime


class CandidateListed(Event):
    """The line's index of its candidates (stream `line-{line}`), kept from `CandidateOpened`."""

    type: ClassVar[str] = "lts.release.candidate_listed"

    line: str
    candidate_id: str
    version: str
    rc: int
    opened_at: datetime


class BackportListed(Event):
    """The line's index of its backports (stream `line-{line}`), kept from `BackportOpened`:
    where a candidate looks for the ready ones."""

    type: ClassVar[str] = "lts.release.backport_listed"

    line: str
    ticket_id: int
    opened_at: datetime
