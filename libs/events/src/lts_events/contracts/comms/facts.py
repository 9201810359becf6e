"""The facts the comms service took from other services' events: its own copy of what it drafts
from (it never reads another service's tables). Owned by the comms service.

One event per input that brought something new, in the stream of what it is about: a ticket
(`ticket_stream(ticket_id)`) or a release (`release_stream(version)`). A field left None
(or an empty tuple where None is not allowed) was not in that input: folding the stream keeps
the earlier value. `source_type` is the input event's type, for the audit. A ticket's `releases`
index is noted from the releases' facts (each release that carries the ticket adds its version),
so that facts arriving on either topic first find the other side.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from lts_events.contracts.common import Severity
from lts_events.event import Event


def release_stream(version: str) -> str:
    """The stream of a release's facts in the comms service's store, by its version: the one
    name every release event carries (a rollback names the versions, not the release)."""
    return f"release-{version}"


class TicketFactsNoted(Event):
    type: ClassVar[str] = "lts.comms.ticket_facts_noted"

    ticket_id: int = Field(ge=1)
    source_type: str
    title: str | None = None
    description: str | None = None
    kind: str | None = None
    cve_ids: tuple[str, ...] | None = None
    reporter: str | None = None
    contact: str | None = None
    affected_versions: tuple[str, ...] | None = None
    affected_lts_lines: tuple[str, ...] | None = None
    severity: Severity | None = None
    security: bool | None = None
    change_kind: str | None = Field(default=None, description="bug_fix or feature (triage)")
    workaround: bool | None = None
    api_change: bool | None = Field(
        default=None, description="The fix changes an API: upgrade guidance is drafted"
    )
    target_branches: tuple[str, ...] | None = None
    releases: tuple[str, ...] | None = Field(
        default=None,
        description="Versions of releases noted as carrying the ticket (added to, not replaced)",
    )
    noted_at: datetime


class ReleaseStatus(StrEnum):
    CANDIDATE = "candidate"
    PUBLISHED = "published"
    ROLLED_BACK = "rolled_back"


class ReleaseFactsNoted(Event):
    """`rolled_back_at`, `rollback_reason` and `rolled_back_to` come with a rollback;
    `upgrade_notes` are the release's own migration notes (upgrade guidance is drafted when
    there are any, or when one of its tickets changes an API)."""

    type: ClassVar[str] = "lts.comms.release_facts_noted"

    version: str
    source_type: str
    release_id: str | None = Field(default=None, description="The release service's id")
    status: ReleaseStatus | None = None
    package: str | None = None
    lts_line: str | None = None
    previous_version: str | None = None
    ticket_ids: tuple[int, ...] | None = None
    image: str | None = None
    chart: str | None = None
    changelog_url: str | None = None
    upgrade_notes: tuple[str, ...] | None = None
    known_issues: tuple[str, ...] | None = None
    published_at: datetime | None = None
    rolled_back_at: datetime | None = None
    rollback_reason: str | None = None
    rolled_back_to: str | None = None
    noted_at: datetime
