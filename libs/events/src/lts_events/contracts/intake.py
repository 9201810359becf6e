"""Events of the intake service (topic `lts.intake.events`). Owned by the intake service.

Every event lives in the ticket's stream (`ticket_stream(ticket_id)`), keyed by it on Kafka.
`TicketOpened` is the standardized ticket: whatever format arrived (report, alert, OSV record,
issue-tracker webhook), the fields below are filled the same way, and `raw` keeps the original
payload for the audit. Consumers read what they need and ignore the rest.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from lts_events.contracts.common import Severity, TicketSource
from lts_events.event import Event

TicketId = int


class TicketKind(StrEnum):
    BUG = "bug"
    SECURITY = "security"
    FEATURE = "feature"
    ALERT = "alert"


class Label(StrEnum):
    """The labels intake applies automatically. Trackers may bring others (kept as strings).
    What each means for severity is in `lts_events.severity`: the rubric's critical cases
    (service down, data loss, remote code execution) are strong evidence, the others hints."""

    SERVICE_DOWN = "service-down"
    DATA_LOSS = "data-loss"
    REMOTE_CODE_EXECUTION = "remote-code-execution"
    SECURITY = "security"
    CVE = "cve"
    REGRESSION = "regression"
    CRASH = "crash"
    PERFORMANCE = "performance"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TicketFields(_Part):
    """The standardized ticket, before it has an id: what intake's parsers produce from any
    input, and (with the id) the body of `TicketOpened`."""

    title: str
    description: str = ""
    source: TicketSource
    kind: TicketKind
    reporter: str | None = None
    contact: str | None = None
    severity_guess: Severity | None = None
    cve_ids: list[str] = Field(default_factory=list)
    advisory_ids: list[str] = Field(default_factory=list, description="OSV id and its aliases")
    affected_versions: list[str] = Field(
        default_factory=list,
        description="Versions or ranges as reported, e.g. '1.4.2', '>=1.3,<1.3.9'",
    )
    affected_lts_lines: list[str] = Field(
        default_factory=list, description="Supported LTS branches, e.g. 'release-lts/v1.4'"
    )
    labels: list[str] = Field(default_factory=list)
    reproduction_steps: str | None = None
    logs: str | None = None
    test_case: str | None = None
    traceback: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    python_version: str | None = None
    package_versions: dict[str, str] = Field(default_factory=dict)
    ci_links: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    alert_fingerprint: str | None = None
    alert_severity: str | None = Field(
        default=None,
        description="The alert's own severity label, verbatim (e.g. 'critical', 'warning')",
    )
    cvss_vectors: list[str] = Field(default_factory=list)
    opened_at: datetime
    external_ref: str | None = Field(
        default=None, description="Where the ticket came from: issue URL, OSV id, alert fingerprint"
    )
    raw: dict[str, Any] = Field(default_factory=dict, description="The payload as it arrived")


class TicketOpened(Event, TicketFields):
    type: ClassVar[str] = "lts.intake.ticket_opened"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId = Field(ge=1, description="Sequential human id: branch lts/vX.Y/issue-<id>")


class StackFrame(_Part):
    file: str
    line: int | None = None
    function: str | None = None
    module: str | None = Field(default=None, description="Dotted module name derived from the path")
    code: str | None = None


class TracebackSummary(_Part):
    exception_type: str
    exception_message: str = ""
    frames: list[StackFrame] = Field(default_factory=list)
    top_project_module: str | None = Field(
        default=None, description="The innermost frame's module that is not stdlib/site-packages"
    )


class ReleaseRef(_Part):
    """A release published shortly before an alert started: a possible regression."""

    version: str
    released_at: datetime
    lts_line: str | None = None
    release_id: str | None = None


class GitCommit(_Part):
    sha: str
    summary: str
    author: str | None = None
    committed_at: datetime | None = None
    files: list[str] = Field(default_factory=list)


class GitMetadata(_Part):
    repository: str
    version_tag: str | None = None
    tag_commit: str | None = None
    recent_commits: list[GitCommit] = Field(default_factory=list)


class TicketEnriched(Event):
    type: ClassVar[str] = "lts.intake.ticket_enriched"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId
    traceback: TracebackSummary | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    python_version: str | None = None
    package_versions: dict[str, str] = Field(default_factory=dict)
    affected_lts_lines: list[str] = Field(default_factory=list)
    possible_regressions: list[ReleaseRef] = Field(default_factory=list)
    git: GitMetadata | None = None


class TicketLabelled(Event):
    type: ClassVar[str] = "lts.intake.ticket_labelled"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId
    labels: list[str] = Field(min_length=1, description="Labels added (not already present)")
    reason: str


class AlertOccurrenceRecorded(Event):
    """The alert behind an open ticket fired again (a new `starts_at` for the same fingerprint)."""

    type: ClassVar[str] = "lts.intake.alert_occurrence_recorded"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId
    fingerprint: str
    source: TicketSource
    starts_at: datetime
    occurrence: int = Field(ge=2, description="How many times it has fired, this one included")
    alert_severity: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


class AlertResolved(Event):
    type: ClassVar[str] = "lts.intake.alert_resolved"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId
    fingerprint: str
    source: TicketSource
    starts_at: datetime | None = None
    ends_at: datetime
    raw: dict[str, Any] = Field(default_factory=dict)


class DuplicateLinked(Event):
    """Another report of an existing ticket arrived; it is linked here instead of opening one."""

    type: ClassVar[str] = "lts.intake.duplicate_linked"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId = Field(description="The existing ticket")
    source: TicketSource
    duplicate_ref: str = Field(description="The duplicate's own id: OSV id, issue URL, ...")
    alias_matched: str | None = Field(default=None, description="The id both share, e.g. a CVE id")
    cve_ids: list[str] = Field(default_factory=list)
    advisory_ids: list[str] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict)


class AdvisoryWithdrawn(Event):
    type: ClassVar[str] = "lts.intake.advisory_withdrawn"
    schema_version: ClassVar[int] = 1

    ticket_id: TicketId
    advisory_id: str
    withdrawn_at: datetime
    raw: dict[str, Any] = Field(default_factory=dict)
