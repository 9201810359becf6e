"""HTTP routes of lines, candidates and releases: open a candidate (release manager), record a
version exception (engineering lead), and the read models /lines, /lines/{line}/releases,
/candidates/{id}, /releases/{version}. A refusal's answer names its rule (`patch-only: ...`).

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Response, status
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.release.candidates import Bump, IncludedBackport
from lts_events.contracts.release.publication import PublishedFile
from lts_events.contracts.triage import RolloutStrategy
from lts_events.http_versions import VersionedRead, etag
from lts_events.support import LtsLine
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field

from lts_release.candidate import CandidateState, status_of
from lts_release.candidates.domain import STATUS_OF_RULE, Decided, ready_ones
from lts_release.candidates.handlers import CandidateHandlers
from lts_release.candidates.lines import LineView, Release
from lts_release.candidates.versioning import final_version, line_of

LINE_PATH = Path(pattern=r"^\d+\.\d+$", description="An LTS line, e.g. 1.4")


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CandidateRequest(_Body):
    """`version`: only to ask for a version other than the next patch (needs an exception)."""

    version: str | None = Field(default=None, max_length=40, pattern=r"^\d+\.\d+\.\d+$")


class VersionExceptionRequest(_Body):
    version: str = Field(max_length=40, pattern=r"^\d+\.\d+\.\d+$")
    reason: str = Field(min_length=3, max_length=2000)


class CandidateView(_Body):
    candidate_id: str
    line: str
    status: str
    version: str
    rc: int
    tag: str
    final_tag: str
    previous_version: str | None
    bump: Bump
    version_exception_by: str | None
    backports: list[IncludedBackport]
    rollout_strategy: RolloutStrategy
    emergency: bool
    opened_by: str
    opened_at: datetime
    published_at: datetime | None
    channels: list[str]
    withdrawn_from: list[str]


class ReleaseView(_Body):
    version: str
    line: str
    tag: str
    candidate_id: str | None
    published_at: datetime | None
    withdrawn: bool
    safe: bool
    ticket_ids: list[int]
    cve_ids: list[str]
    artifacts: list[PublishedFile]
    release_page_url: str | None
    previous_safe_version: str | None


class LineSummary(_Body):
    line: str
    branch: str
    end_of_support: date
    supported: bool
    latest_version: str | None
    safe_version: str | None
    next_version: str
    ready_backports: list[int]
    candidates: list[str]


class LineReleases(_Body):
    line: str
    releases: list[ReleaseView]


def candidate_view(state: CandidateState) -> CandidateView:
    opened = state.opened
    assert opened is not None
    return CandidateView(
        candidate_id=opened.candidate_id,
        line=opened.line,
        status=status_of(state),
        version=opened.version,
        rc=opened.rc,
        tag=opened.tag,
        final_tag=opened.final_tag,
        previous_version=opened.previous_version,
        bump=opened.bump,
        version_exception_by=opened.version_exception_by,
        backports=list(opened.backports),
        rollout_strategy=opened.rollout_strategy,
        emergency=opened.emergency,
        opened_by=opened.opened_by,
        opened_at=opened.opened_at,
        published_at=state.published.published_at if state.published else None,
        channels=[c.channel for c in state.channels],
        withdrawn_from=sorted(state.withdrawn_from),
    )


def release_view(view: LineView, release: Release) -> ReleaseView:
    published = release.candidate.published if release.candidate else None
    return ReleaseView(
        version=str(release.version),
        line=view.line,
        tag=published.tag if published else f"v{release.version}",
        candidate_id=published.candidate_id if published else None,
        published_at=published.published_at if published else None,
        withdrawn=release.withdrawn,
        safe=release.version == view.safe,
        ticket_ids=list(published.ticket_ids) if published else [],
        cve_ids=list(published.cve_ids) if published else [],
        artifacts=list(published.artifacts) if published else [],
        release_page_url=published.release_page_url if published else None,
        previous_safe_version=published.previous_safe_version if published else None,
    )


def build_router(handlers: CandidateHandlers, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(tags=["candidates"])
    Authenticated = Annotated[Principal, Depends(authenticator)]

    def known(line: str) -> LtsLine:
        found = handlers.line(line)
        if found is None:
            known_lines = ", ".join(sorted(handlers.lines)) or "none"
            detail = f"unknown line {line}: the support matrix has {known_lines}"
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
        return found

    async def summary(line: LtsLine) -> LineSummary:
        view = await handlers.view(line.version)
        ready = ready_ones(await handlers.backports(view))
        latest = view.last_published
        next_version = f"{latest.major}.{latest.minor}.{latest.micro + 1}" if latest else None
        return LineSummary(
            line=line.version,
            branch=line.branch,
            end_of_support=line.end_of_support,
            supported=line.supported_on(handlers.clock().date()),
            latest_version=str(latest) if latest else None,
            safe_version=str(view.safe) if view.safe else None,
            next_version=next_version or f"{line.version}.0",
            ready_backports=[b.terms.ticket_id for b in ready if b.terms],
            candidates=[c.candidate_id for c in view.state.candidates],
        )

    @router.get("/lines")
    async def get_lines(principal: Authenticated) -> list[LineSummary]:
        """The supported lines, newest first, with their latest and safe versions."""
        today = handlers.clock().date()
        lines = sorted(handlers.lines.values(), key=lambda x: x.sort_key, reverse=True)
        return [await summary(line) for line in lines if line.supported_on(today)]

    @router.get("/lines/{line}")
    async def get_line(line: Annotated[str, LINE_PATH], principal: Authenticated) -> LineSummary:
        return await summary(known(line))

    @router.get("/lines/{line}/releases")
    async def get_releases(
        line: Annotated[str, LINE_PATH], principal: Authenticated
    ) -> LineReleases:
        """Published versions of the line, newest first (withdrawn ones too, marked)."""
        view = await handlers.view(known(line).version)
        return LineReleases(line=line, releases=[release_view(view, r) for r in view.releases()])

    @router.post("/lines/{line}/candidates", status_code=status.HTTP_201_CREATED)
    async def post_candidate(
        line: Annotated[str, LINE_PATH],
        principal: Authenticated,
        response: Response,
        body: Annotated[CandidateRequest | None, Body()] = None,
    ) -> CandidateView:
        """Open the next release candidate of the line from its ready backports (release
        manager). The version is the next patch of the last published one; another version
        is 409 `patch-only` unless an engineering lead's exception for it is recorded."""
        lts_line = known(line)
        requested = _final(body.version) if body and body.version else None
        decided = await handlers.open(lts_line, principal.actor_id, principal.roles, requested)
        _raise_refusal(decided)
        assert decided.outcome is not None
        candidate_id = getattr(decided.outcome.event, "candidate_id")  # noqa: B009
        response.headers["Location"] = f"/candidates/{candidate_id}"
        state, version = await handlers.candidate(candidate_id)
        response.headers["ETag"] = etag(version)
        return candidate_view(state)

    @router.post("/lines/{line}/version-exceptions", status_code=status.HTTP_201_CREATED)
    async def post_version_exception(
        line: Annotated[str, LINE_PATH],
        body: VersionExceptionRequest,
        principal: Authenticated,
        response: Response,
    ) -> LineSummary:
        """An engineering lead allows one non-patch version on the line (201; 200 again)."""
        lts_line = known(line)
        version = _final(body.version)
        decided = await handlers.approve_exception(
            lts_line, principal.actor_id, principal.roles, version, body.reason
        )
        _raise_refusal(decided)
        if decided.outcome is None:
            response.status_code = status.HTTP_200_OK
        return await summary(lts_line)

    @router.get("/candidates/{candidate_id}")
    async def get_candidate(
        candidate_id: str, principal: Authenticated, versioned: VersionedRead
    ) -> CandidateView:
        """The candidate; its ETag is its version (staged artifacts, seal, publication)."""
        state, version = await handlers.candidate(candidate_id)
        if state.opened is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no candidate {candidate_id}")
        versioned.answer(version)
        return candidate_view(state)

    @router.get("/releases/{version}")
    async def get_release(version: str, principal: Authenticated) -> ReleaseView:
        """A published version (JSON; its downloadable page is `/releases/{version}/`)."""
        parsed = final_version(version.removeprefix("v"))
        line = handlers.line(line_of(parsed)) if parsed else None
        if parsed is None or line is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no release {version}")
        view = await handlers.view(line.version)
        release = next((r for r in view.releases() if r.version == parsed), None)
        if release is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no release {version}")
        return release_view(view, release)

    return router


def _final(text: str) -> Version:
    version = final_version(text)
    if version is None:
        raise HTTPException(422, f"version: {text!r} is not a final version X.Y.Z")
    return version


def _raise_refusal(decided: Decided) -> None:
    refused = decided.refusal
    if refused is not None:
        raise HTTPException(STATUS_OF_RULE[refused.rule], f"{refused.rule.value}: {refused.reason}")
