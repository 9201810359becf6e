"""HTTP routes of publication: publish a sealed candidate, withdraw a published one, and the
release page at `/releases/` (the HTML index, one page per version, its files).

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)

`/releases/{version}` without a trailing slash is the core's JSON read model; the page is
`/releases/{version}/`."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import FileResponse
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.release.publication import PublicationRule, ReleasePublished
from lts_events.http_versions import IfMatch
from pydantic import BaseModel, ConfigDict, Field

from lts_release.channels.release_page import ReleasePageChannel
from lts_release.publication.decide import WITHDRAWERS
from lts_release.publication.service import (
    CandidateNotFound,
    ChannelFailed,
    ChannelUnavailable,
    Publication,
    Refused,
)

_STATUS = {
    PublicationRule.ROLE: status.HTTP_403_FORBIDDEN,
    PublicationRule.NOT_SEALED: status.HTTP_409_CONFLICT,
    PublicationRule.WITHDRAWN: status.HTTP_409_CONFLICT,
    PublicationRule.NOT_PUBLISHED: status.HTTP_409_CONFLICT,
    PublicationRule.PRECONDITION_FAILED: status.HTTP_412_PRECONDITION_FAILED,
}
RETRY_AFTER_SECONDS = "30"


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class WithdrawnView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    outcome: str = Field(description="yanked, marked_unsafe, or already (an earlier withdrawal)")


def _refused(refused: Refused) -> HTTPException:
    rule = refused.refusal.rule
    return HTTPException(_STATUS[rule], f"{rule.value}: {refused.refusal.reason}")


def _channel_error(error: ChannelFailed | ChannelUnavailable) -> HTTPException:
    if isinstance(error, ChannelUnavailable):
        return HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"channel {error.channel} is unavailable ({error.error}); nothing was recorded for "
            "it: publish again later, what is already out is not sent twice",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return HTTPException(
        status.HTTP_502_BAD_GATEWAY,
        f"channel {error.channel} refused the release: {error.error}",
    )


def _acting_role(principal: Principal, allowed: frozenset[Role]) -> Role:
    return next((role for role in sorted(allowed) if principal.has(role)), Role.AUTOMATION)


def build_router(
    publication: Publication,
    page: ReleasePageChannel,
    authenticator: Authenticator,
    *,
    page_url: str | None = None,
) -> APIRouter:
    router = APIRouter(tags=["publication"])
    Authenticated = Annotated[Principal, Depends(authenticator)]

    @router.post("/candidates/{candidate_id}/publish", status_code=status.HTTP_201_CREATED)
    async def publish(
        candidate_id: str,
        request: Request,
        response: Response,
        principal: Authenticated,
        if_match: IfMatch,
    ) -> ReleasePublished:
        """Publish a sealed candidate to the package index and the release page (release
        manager). Publishing again answers the same `ReleasePublished` (200) and sends nothing.
        412 (recorded, nothing sent) when `If-Match` names another version than the
        candidate's (`GET /candidates/{id}`'s ETag)."""
        base_url = page_url or f"{str(request.base_url).rstrip('/')}/releases/"
        try:
            published, new = await publication.publish(
                candidate_id,
                actor_id=principal.actor_id,
                roles=principal.roles,
                base_url=base_url,
                if_match=if_match,
            )
        except CandidateNotFound as missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from None
        except Refused as refused:
            raise _refused(refused) from None
        except (ChannelFailed, ChannelUnavailable) as error:
            raise _channel_error(error) from None
        if not new:
            response.status_code = status.HTTP_200_OK
        return published

    @router.post("/candidates/{candidate_id}/withdraw")
    async def withdraw(
        candidate_id: str, body: WithdrawRequest, principal: Authenticated, if_match: IfMatch
    ) -> list[WithdrawnView]:
        """Yank the published version where a channel can, mark it unsafe on the others
        (release manager or SRE; a rollback does it on its own). 412 (recorded, no channel
        asked) when `If-Match` names another version than the candidate's."""
        actor = principal.acting_as(_acting_role(principal, WITHDRAWERS))
        try:
            done = await publication.withdraw(
                candidate_id,
                actor=actor,
                reason=body.reason,
                roles=principal.roles,
                if_match=if_match,
            )
        except CandidateNotFound as missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from None
        except Refused as refused:
            raise _refused(refused) from None
        except ChannelUnavailable as error:
            raise _channel_error(error) from None
        now = {outcome.channel: outcome.outcome for outcome in done.outcomes}
        return [
            WithdrawnView(channel=channel, outcome=now.get(channel, "already"))
            for channel in sorted(done.withdrawn_from)
        ]

    @router.get("/releases/", include_in_schema=False)
    async def release_index() -> FileResponse:
        found = page.index_file()
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "nothing was published yet")
        return FileResponse(found, media_type="text/html; charset=utf-8")

    @router.get("/releases/{version}/", include_in_schema=False)
    async def release_page(version: str) -> FileResponse:
        found = page.served_file(version)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no release page of {version}")
        return FileResponse(found, media_type="text/html; charset=utf-8")

    @router.get("/releases/{version}/{name:path}", include_in_schema=False)
    async def release_file(version: str, name: str) -> FileResponse:
        found = page.served_file(version, name)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{version} has no file {name}")
        return FileResponse(found, filename=found.name)

    return router
