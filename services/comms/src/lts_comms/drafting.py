"""Which documents the facts call for, and their content now (pure, given the loaded
templates): for a published release its note, its internal status, its upgrade guidance when
the plan or the release asks for one; for each rollback an internal status; for a security
ticket in a release (candidate or published) its advisory, drafted early so that the security
reviewer can review it and set the embargo before the fix goes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lts_events.contracts.comms.documents import Audience, DocumentKind
from pydantic import BaseModel

from lts_comms import contexts
from lts_comms.contexts import AdvisoryContext, Links
from lts_comms.document import DraftContent
from lts_comms.osv import osv_record
from lts_comms.projection import ReleaseView, TicketView
from lts_comms.render import renderings
from lts_comms.templates import Templates


def release_note_id(version: str) -> str:
    return f"release-note-{version}"


def upgrade_guidance_id(version: str) -> str:
    return f"upgrade-guidance-{version}"


def status_id(version: str, *, rollback: int | None) -> str:
    return f"status-{version}-rollback-{rollback}" if rollback else f"status-{version}-published"


def advisory_document_id(ticket_id: int) -> str:
    return f"advisory-{ticket_id}"


@dataclass(frozen=True)
class Drafter:
    templates: Templates
    links: Links

    def content(
        self,
        kind: DocumentKind,
        document_id: str,
        context: BaseModel,
        *,
        audience: Audience,
        title: str,
        release_id: str | None = None,
        ticket_ids: tuple[int, ...] = (),
        fix_published_at: datetime | None = None,
        osv: dict[str, Any] | None = None,
    ) -> DraftContent:
        markdown = self.templates.render(kind, context)
        return DraftContent(
            document_id=document_id,
            kind=kind,
            audience=audience,
            title=title,
            renderings=renderings(markdown),
            template=self.templates.name(kind),
            facts=context.model_dump(mode="json"),
            release_id=release_id,
            ticket_ids=ticket_ids,
            fix_published_at=fix_published_at,
            osv=osv,
        )

    def for_release(
        self, release: ReleaseView, tickets: Sequence[TicketView]
    ) -> list[DraftContent]:
        """The release's own documents (not its advisories): nothing before publication."""
        if release.published_at is None:
            return []
        package = release.package or self.links.package
        note = contexts.release_note_context(release, tickets, self.links)
        rolled = " (rolled back)" if release.rollbacks else ""
        drafts = [
            self.content(
                DocumentKind.RELEASE_NOTE,
                release_note_id(release.version),
                note,
                audience=Audience.EXTERNAL,
                title=f"{package} {release.version}{rolled}",
                release_id=release.release_id,
                ticket_ids=release.ticket_ids,
            ),
            self.status(release, tickets, rollback=None),
        ]
        drafts += [
            self.status(release, tickets, rollback=n) for n in range(1, len(release.rollbacks) + 1)
        ]
        if contexts.needs_upgrade_guidance(release, tickets):
            guidance = contexts.upgrade_guidance_context(release, tickets, self.links)
            drafts.append(
                self.content(
                    DocumentKind.UPGRADE_GUIDANCE,
                    upgrade_guidance_id(release.version),
                    guidance,
                    audience=Audience.EXTERNAL,
                    title=f"Upgrading {package} to {release.version}",
                    release_id=release.release_id,
                    ticket_ids=release.ticket_ids,
                )
            )
        return drafts

    def status(
        self, release: ReleaseView, tickets: Sequence[TicketView], *, rollback: int | None
    ) -> DraftContent:
        context = contexts.internal_status_context(release, tickets, self.links, rollback=rollback)
        what = "rolled back" if rollback else "published"
        return self.content(
            DocumentKind.INTERNAL_STATUS,
            status_id(release.version, rollback=rollback),
            context,
            audience=Audience.INTERNAL,
            title=f"{context.package} {release.version} {what}",
            release_id=release.release_id,
            ticket_ids=release.ticket_ids,
        )

    def advisory(self, ticket: TicketView, releases: Sequence[ReleaseView]) -> DraftContent:
        context = contexts.advisory_context(ticket, releases, self.links)
        fixed_at = contexts.fix_published_at(releases)
        markdown = self.templates.render(DocumentKind.SECURITY_ADVISORY, context)
        record = osv_record(
            context, details=markdown, modified=_modified(releases, context), published=fixed_at
        )
        return self.content(
            DocumentKind.SECURITY_ADVISORY,
            advisory_document_id(ticket.ticket_id),
            context,
            audience=Audience.EXTERNAL,
            title=f"{context.advisory_id}: {context.title}",
            ticket_ids=(ticket.ticket_id,),
            fix_published_at=fixed_at,
            osv=record,
        )


def _modified(releases: Sequence[ReleaseView], context: AdvisoryContext) -> datetime:
    """The record changes with the releases that fix it: the last publication or rollback
    (deterministic, so an unchanged advisory is not a new revision)."""
    times = [r.published_at for r in releases if r.published_at is not None]
    times += [rb.rolled_back_at for r in releases for rb in r.rollbacks]
    return max(times) if times else contexts.advisory_epoch()
