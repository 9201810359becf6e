"""HTTP routes: authenticate, validate, call the shell. The review and embargo rules are the
domain's (`document.py`, `review.py`, `embargo.py`); a refused request is recorded there and
raised here as an `HTTPException` with its status (403, 404, 409; 412 for a stale `If-Match`),
which the host answers as problem+json like every service's errors (`lts_events.problems`).

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.comms.documents import Audience, DocumentKind, document_stream
from lts_events.http_versions import IfMatch, Tags, VersionedRead, etag
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lts_comms import review
from lts_comms.document import (
    Approve,
    Command,
    Refuse,
    RequestRelease,
    Reviewer,
    SetEmbargo,
    fold,
)
from lts_comms.handlers import Caller, CommsHandlers
from lts_comms.index import DocumentIndex
from lts_comms.views import DocumentSummary, DocumentView, summary_of, view_of

_STATUS = {"forbidden": 403, "conflict": 409, "not_found": 404}


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApprovalRequest(_Body):
    revision: int = Field(ge=1, description="The revision approved (approvals count for it)")
    comment: str = Field(default="", max_length=2000)


class RefusalRequest(_Body):
    revision: int = Field(ge=1)
    reason: str = Field(min_length=3, max_length=4000)


class EmbargoRequest(_Body):
    until: AwareDatetime = Field(description="Not released externally before this time")
    reason: str = Field(default="", max_length=2000)


class ReleaseRequest(_Body):
    revision: int | None = Field(default=None, ge=1)


_REVIEWING = frozenset({Role.COMMUNICATIONS_LEAD, Role.SECURITY_REVIEWER})


def _caller(principal: Principal) -> Caller:
    """The actor recorded in the metadata acts in a reviewing role when they hold one."""
    roles = sorted(principal.roles & _REVIEWING) or sorted(principal.roles) or [Role.REQUESTER]
    return Caller(principal.acting_as(roles[0]), frozenset(principal.roles))


def build_router(handlers: CommsHandlers, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/documents", tags=["documents"])
    Authenticated = Annotated[Principal, Depends(authenticator)]
    index = DocumentIndex(handlers.store)

    async def current(document_id: str, principal: Principal) -> tuple[DocumentView, int]:
        """The document's view and its version (the ETag: the stream's, as the view lists
        every event of it)."""
        history = await handlers.store.read_stream(document_stream(document_id))
        if not history.exists:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no document {document_id!r}")
        state = fold(r.event for r in history.events)
        if state.embargoed and not review.may_read_embargoed(principal.roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "an advisory under embargo is shown only to the communications lead and the "
                "security reviewer",
            )
        return view_of(state, history.events, now=handlers.clock()), history.version

    @router.get("")
    async def list_documents(
        principal: Authenticated,
        kind: DocumentKind | None = None,
        audience: Audience | None = None,
        release: Annotated[str | None, Query(description="The release's version")] = None,
        ticket: int | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        since: datetime | None = None,
    ) -> list[DocumentSummary]:
        """Documents, newest change first, filtered by kind, audience, release version, ticket,
        status (awaiting_approval, embargoed, refused, releasable, released) or last change."""
        found: list[DocumentSummary] = []
        now = handlers.clock()
        for document_id, updated_at in (await index.documents()).items():
            if since is not None and updated_at < since:
                continue
            state, _ = await handlers.load(document_id)
            summary = summary_of(state, now=now, updated_at=updated_at)
            if state.embargoed and not review.may_read_embargoed(principal.roles):
                summary = summary.model_copy(update={"title": "(advisory under embargo)"})
            facts = state.latest.facts if state.latest else {}
            version = facts.get("version")
            if (
                (kind is None or summary.kind is kind)
                and (audience is None or summary.audience is audience)
                and (release is None or version == release or _lists_fix(facts, release))
                and (ticket is None or ticket in summary.ticket_ids)
                and (status_ is None or summary.status == status_)
            ):
                found.append(summary)
        return sorted(found, key=lambda s: s.updated_at, reverse=True)

    @router.get("/{document_id}")
    async def get_document(
        document_id: str, principal: Authenticated, versioned: VersionedRead
    ) -> DocumentView:
        """The document's latest revision, every revision (cause, what changed, who drafted
        and approved it) and its whole history (actor, role, reason per event). Its ETag is
        the document's version, which `If-Match` on a review request names."""
        view, version = await current(document_id, principal)
        versioned.answer(version)
        return view

    async def ask(
        document_id: str,
        command: Command,
        principal: Principal,
        response: Response,
        if_match: Tags | None,
    ) -> DocumentView:
        history = await handlers.store.read_stream(document_stream(document_id))
        if not history.exists:  # 404 for an unknown document, before anything is recorded
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no document {document_id!r}")
        decided = await handlers.ask(document_id, command, _caller(principal), if_match=if_match)
        if decided.refusal is not None:
            raise HTTPException(_STATUS[decided.refusal.refusal.value], decided.refusal.reason)
        view, version = await current(document_id, principal)
        response.headers["ETag"] = etag(version)
        return view

    def reviewer(principal: Principal) -> Reviewer:
        return Reviewer(principal.actor_id, frozenset(principal.roles))

    @router.post("/{document_id}/approvals")
    async def approve(
        document_id: str,
        body: ApprovalRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> DocumentView:
        """The communications lead's approval (and, for an advisory, the security reviewer's)."""
        command = Approve(reviewer(principal), body.revision, body.comment)
        return await ask(document_id, command, principal, response, if_match)

    @router.post("/{document_id}/refusals")
    async def refuse(
        document_id: str,
        body: RefusalRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> DocumentView:
        command = Refuse(reviewer(principal), body.revision, body.reason)
        return await ask(document_id, command, principal, response, if_match)

    @router.post("/{document_id}/embargo")
    async def set_embargo(
        document_id: str,
        body: EmbargoRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> DocumentView:
        """The security reviewer's embargo time for an advisory (replaces an earlier one)."""
        command = SetEmbargo(reviewer(principal), body.until, body.reason)
        return await ask(document_id, command, principal, response, if_match)

    @router.post("/{document_id}/release")
    async def release(
        document_id: str,
        body: ReleaseRequest,
        principal: Authenticated,
        response: Response,
        if_match: IfMatch,
    ) -> DocumentView:
        """Release (send) the latest revision. A revision is released on its own once nothing
        holds it; asking before then is refused with the reasons (409) and recorded."""
        command = RequestRelease(reviewer(principal), body.revision)
        return await ask(document_id, command, principal, response, if_match)

    return router


def _lists_fix(facts: dict[str, object], version: str) -> bool:
    fixed_in = facts.get("fixed_in")
    return isinstance(fixed_in, list) and any(
        isinstance(f, dict) and f.get("fixed") == version for f in fixed_in
    )
