"""Documents of the comms service: drafts and their revisions, reviews, the embargo, and the
release of a revision to an audience. Owned by the comms service (topic `lts.comms.events`).

Every event of one document lives in its stream (`document_stream(document_id)`), keyed by it
on Kafka. A document is drafted from the facts comms noted (`facts`): a release note, an
internal status and upgrade guidance from a release, a security advisory from a security ticket
and the releases that fix it. Each new draft of the same document is a new `revision`, saying
why (`cause`) and which facts changed (`changes`).

Lifecycle of an external document: `DocumentDrafted` -> `DocumentApproved`* (the
communications lead; for an advisory also the security reviewer; approvals count for the
revision they were given for) -> `DocumentReleased` (audience external). A reviewer's refusal
is `DocumentRefused`: that revision is never released, a later one may be. An advisory is under
embargo from its first draft: `EmbargoSet` (by the security reviewer) names the earliest time,
and `EmbargoLifted` follows once the fix is published and that time has passed (by default, at
publication); only then can it be released externally. Internal documents (internal status)
are released to the internal audience as drafted, and never carry embargoed details.
`DocumentReleased` is what the delivery outbox acts on: it carries everything to deliver.
Every refused request (a premature release, a reviewer without the role) is a
`DocumentRequestRefused`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lts_events.actors import Role
from lts_events.event import Event, JsonDict

DocumentId = str


def document_stream(document_id: DocumentId) -> str:
    """The stream of a document in the comms service's store."""
    return f"document-{document_id}"


class DocumentKind(StrEnum):
    RELEASE_NOTE = "release_note"
    SECURITY_ADVISORY = "security_advisory"
    INTERNAL_STATUS = "internal_status"
    UPGRADE_GUIDANCE = "upgrade_guidance"


class Audience(StrEnum):
    """Who a document is for: external (users, mailing lists, feeds) or internal (the team's
    channels). Internal channels never get embargoed details."""

    EXTERNAL = "external"
    INTERNAL = "internal"


class RevisionCause(StrEnum):
    """Why a revision was drafted."""

    DRAFTED = "drafted"  # the first revision
    REGENERATED = "regenerated"  # the facts it is drawn from changed (a CVE id, a title...)
    AMENDED_AFTER_ROLLBACK = "amended_after_rollback"  # says what the rollback changed


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Renderings(_Value):
    """One revision in the three forms channels take: Markdown (the source), HTML rendered from
    it, and plain text (mail bodies, chat fallbacks)."""

    markdown: str
    html: str
    text: str


class DocumentDrafted(Event):
    """A revision of a document. `facts` is the context its template was rendered with (what
    the document says, as data); `changes` names the facts that differ from the previous
    revision. `fix_published_at` (advisories) is when the first release carrying the fix was
    published and is still published: None while no fix is out, or after every release with
    it was rolled back. `osv` (advisories) is the revision's OSV record."""

    type: ClassVar[str] = "lts.comms.document_drafted"

    document_id: DocumentId
    kind: DocumentKind
    revision: int = Field(ge=1)
    audience: Audience
    title: str
    renderings: Renderings
    template: str = Field(description="The template's name, e.g. 'release_note.md.j2'")
    facts: JsonDict
    cause: RevisionCause
    changes: tuple[str, ...] = Field(
        default=(), description="The facts that differ from the previous revision"
    )
    release_id: str | None = None
    ticket_ids: tuple[int, ...] = ()
    fix_published_at: datetime | None = None
    osv: JsonDict | None = None
    drafted_by: str
    drafted_at: datetime


class DocumentApproved(Event):
    type: ClassVar[str] = "lts.comms.document_approved"

    document_id: DocumentId
    revision: int = Field(ge=1)
    approved_by: str
    role: Role
    comment: str = ""
    approved_at: datetime


class DocumentRefused(Event):
    """A reviewer refused a revision: it is never released; a later revision may be."""

    type: ClassVar[str] = "lts.comms.document_refused"

    document_id: DocumentId
    revision: int = Field(ge=1)
    refused_by: str
    role: Role
    reason: str
    refused_at: datetime


class EmbargoSet(Event):
    """The security reviewer's embargo time: the advisory is not released externally before
    `until`, nor before its fix is published. Setting it again replaces it."""

    type: ClassVar[str] = "lts.comms.embargo_set"

    document_id: DocumentId
    until: datetime
    set_by: str
    reason: str = ""
    set_at: datetime


class EmbargoLifted(Event):
    """The fix is published (`fix_published_at`) and the embargo time (`until`; the
    publication when none was set) has passed: the advisory may be released externally."""

    type: ClassVar[str] = "lts.comms.embargo_lifted"

    document_id: DocumentId
    fix_published_at: datetime
    until: datetime
    lifted_at: datetime


class DocumentReleased(Event):
    """A revision cleared for delivery to `audience`: what the delivery outbox sends. It carries
    the whole revision, so the outbox needs nothing else. `supersedes` is the revision released
    to this audience before, when this one amends it."""

    type: ClassVar[str] = "lts.comms.document_released"

    document_id: DocumentId
    kind: DocumentKind
    revision: int = Field(ge=1)
    audience: Audience
    title: str
    renderings: Renderings
    release_id: str | None = None
    ticket_ids: tuple[int, ...] = ()
    osv: JsonDict | None = None
    supersedes: int | None = None
    released_by: str
    released_at: datetime


class RefusalKind(StrEnum):
    """Why a request was refused; the HTTP status the API answers with is in brackets."""

    FORBIDDEN = "forbidden"  # 403: the caller lacks the role
    CONFLICT = "conflict"  # 409: not in this state of the document (e.g. under embargo)
    NOT_FOUND = "not_found"  # 404: no such revision
    PRECONDITION_FAILED = "precondition_failed"  # 412: If-Match names a stale version


DocumentAction = Literal["approve", "refuse", "release", "set_embargo"]


class DocumentRequestRefused(Event):
    """A request on a document that was refused, recorded for the audit: who, what, why. A
    release asked for before the embargo lifted is one (`conflict`)."""

    type: ClassVar[str] = "lts.comms.document_request_refused"

    document_id: DocumentId
    actor: str
    held_roles: tuple[Role, ...]
    action: DocumentAction
    revision: int | None = None
    refusal: RefusalKind
    reason: str
    refused_at: datetime
