"""What the API shows of a document (pure): its revisions with who drafted them, why and what
changed, its reviews, embargo and releases, and the whole history with actors and reasons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lts_events.contracts.comms.documents import (
    Audience,
    DocumentApproved,
    DocumentDrafted,
    DocumentKind,
    Renderings,
    RevisionCause,
)
from lts_events.envelope import RecordedEvent
from pydantic import BaseModel, ConfigDict

from lts_comms.document import DocumentState, holds


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RevisionView(_View):
    revision: int
    cause: RevisionCause
    changes: list[str]
    title: str
    template: str
    drafted_by: str
    drafted_at: datetime
    approved_by: list[str]
    refused: bool
    released_to: list[Audience]


class HistoryEntry(_View):
    """One event of the document: who (actor, role), why (reason), what (type, data)."""

    version: int
    type: str
    actor: str
    role: str
    reason: str | None
    recorded_at: datetime
    data: dict[str, Any]


class EmbargoView(_View):
    until: datetime | None
    fix_published_at: datetime | None
    lifted_at: datetime | None


class DocumentSummary(_View):
    document_id: str
    kind: DocumentKind
    audience: Audience
    title: str
    revision: int
    status: str  # refused / embargoed / awaiting_approval / released
    release_id: str | None
    ticket_ids: list[int]
    updated_at: datetime


class DocumentView(DocumentSummary):
    holds: list[str]
    embargo: EmbargoView | None
    renderings: Renderings
    facts: dict[str, Any]
    osv: dict[str, Any] | None
    revisions: list[RevisionView]
    history: list[HistoryEntry]


def status_of(state: DocumentState, *, now: datetime) -> str:
    latest = state.latest
    assert latest is not None
    if state.released.get(latest.audience) == latest.revision:
        return "released"
    if latest.revision in state.refused:
        return "refused"
    if state.embargoed:
        return "embargoed"
    return "awaiting_approval" if holds(state, now=now) else "releasable"


def summary_of(state: DocumentState, *, now: datetime, updated_at: datetime) -> DocumentSummary:
    latest = state.latest
    assert latest is not None
    return DocumentSummary(
        document_id=latest.document_id,
        kind=latest.kind,
        audience=latest.audience,
        title=latest.title,
        revision=latest.revision,
        status=status_of(state, now=now),
        release_id=latest.release_id,
        ticket_ids=list(latest.ticket_ids),
        updated_at=updated_at,
    )


def view_of(
    state: DocumentState, history: Sequence[RecordedEvent], *, now: datetime
) -> DocumentView:
    latest = state.latest
    assert latest is not None
    assert history
    summary = summary_of(state, now=now, updated_at=history[-1].recorded_at)
    approvers: dict[int, list[str]] = {}
    for recorded in history:
        if isinstance(approved := recorded.event, DocumentApproved):
            approvers.setdefault(approved.revision, []).append(
                f"{approved.approved_by} ({approved.role.value})"
            )
    return DocumentView(
        **summary.model_dump(),
        holds=holds(state, now=now),
        embargo=_embargo(state, latest),
        renderings=latest.renderings,
        facts=latest.facts,
        osv=latest.osv,
        revisions=[_revision(state, r, approvers.get(r.revision, [])) for r in state.revisions],
        history=[
            HistoryEntry(
                version=r.stream_version,
                type=r.type,
                actor=r.metadata.actor.id,
                role=r.metadata.actor.role.value,
                reason=r.metadata.reason,
                recorded_at=r.recorded_at,
                data=_brief(r.data),
            )
            for r in history
        ],
    )


def _revision(state: DocumentState, drafted: DocumentDrafted, approvers: list[str]) -> RevisionView:
    return RevisionView(
        revision=drafted.revision,
        cause=drafted.cause,
        changes=list(drafted.changes),
        title=drafted.title,
        template=drafted.template,
        drafted_by=drafted.drafted_by,
        drafted_at=drafted.drafted_at,
        approved_by=approvers,
        refused=drafted.revision in state.refused,
        released_to=[a for a, rev in state.released.items() if rev == drafted.revision],
    )


def _embargo(state: DocumentState, latest: DocumentDrafted) -> EmbargoView | None:
    if latest.kind is not DocumentKind.SECURITY_ADVISORY:
        return None
    return EmbargoView(
        until=state.embargo_until,
        fix_published_at=latest.fix_published_at,
        lifted_at=state.lifted.lifted_at if state.lifted else None,
    )


_BULKY = ("renderings", "facts", "osv")


def _brief(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data without the bulky parts the view shows once (renderings, facts, OSV)."""
    return {k: v for k, v in data.items() if k not in _BULKY}
