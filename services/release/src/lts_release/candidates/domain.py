"""Candidates, pure: open a release candidate of a line from its ready backports with the
version the policy allows (`versioning.choose_version`), or refuse and say which rule; record an
engineering lead's version exception. Time, the line's state and the backports come in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lts_events.actors import Actor, Role
from lts_events.contracts.release.candidates import (
    CandidateOpened,
    CandidateRefused,
    CandidateRule,
    IncludedBackport,
    VersionExceptionApproved,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_events.support import LtsLine
from packaging.version import Version

from lts_release.appending import Outcome
from lts_release.backports.domain import BackportState
from lts_release.candidates.lines import LineView
from lts_release.candidates.versioning import (
    Allowed,
    Refused,
    choose_version,
    final_tag,
    rc_id,
    rc_tag,
)

CANDIDATE_OPENERS = (Role.RELEASE_MANAGER,)
EXCEPTION_APPROVERS = (Role.ENGINEERING_LEAD,)
# The HTTP answer to each refusal
STATUS_OF_RULE = {
    CandidateRule.ROLE: 403,
    CandidateRule.EXCEPTION_ROLE: 403,
    CandidateRule.PATCH_ONLY: 409,
    CandidateRule.NO_READY_BACKPORTS: 409,
    CandidateRule.VERSION_NOT_NEWER: 409,
    CandidateRule.OTHER_LINE: 409,
    CandidateRule.LINE_OUT_OF_SUPPORT: 409,
}


@dataclass(frozen=True, slots=True)
class Request:
    """Who asks, holding which roles, on which line, at what time."""

    actor_id: str
    held_roles: frozenset[Role]
    line: LtsLine
    now: datetime


@dataclass(frozen=True, slots=True)
class Decided:
    """One event: the candidate opened (stream `candidate-{id}`), an exception recorded or a
    refusal (stream `line-{line}`); `refusal` is set for the latter."""

    outcome: Outcome | None = None
    refusal: CandidateRefused | None = None


def _refuse(request: Request, rule: CandidateRule, reason: str, version: str | None) -> Decided:
    refused = CandidateRefused(
        line=request.line.version,
        actor=request.actor_id,
        held_roles=tuple(sorted(request.held_roles)),
        rule=rule,
        requested_version=version,
        reason=reason,
        refused_at=request.now,
    )
    role = min(request.held_roles) if request.held_roles else Role.REQUESTER
    return Decided(Outcome(refused, Actor(id=request.actor_id, role=role), reason), refused)


def included(state: BackportState) -> IncludedBackport:
    terms, ready = state.terms, state.ready
    assert terms is not None
    assert ready is not None
    return IncludedBackport(
        ticket_id=terms.ticket_id,
        title=terms.title,
        cve_ids=terms.cve_ids,
        patch_branch=terms.patch_branch,
        commit=ready.commit,
        rollout_strategy=terms.rollout_strategy,
        emergency=terms.emergency,
        fast_tracked=ready.fast_tracked,
    )


def ready_ones(backports: Sequence[BackportState]) -> list[BackportState]:
    return [b for b in backports if b.is_open and b.ready is not None]


def open_candidate(
    request: Request,
    view: LineView,
    backports: Sequence[BackportState],
    *,
    requested: Version | None,
    rc: int | None = None,
) -> Decided:
    """`rc`: the RC number to take (default the line's next for the version)."""
    asked = str(requested) if requested else None
    if not any(r in request.held_roles for r in CANDIDATE_OPENERS):
        return _refuse(
            request, CandidateRule.ROLE, "only a release manager opens candidates", asked
        )
    if not request.line.supported_on(request.now.date()):
        why = f"line {request.line.version} is out of support since {request.line.end_of_support}"
        return _refuse(request, CandidateRule.LINE_OUT_OF_SUPPORT, why, asked)
    chosen = choose_version(
        request.line.version,
        view.last_published,
        requested,
        exceptions=view.exception_versions(),
    )
    if isinstance(chosen, Refused):
        return _refuse(request, chosen.rule, chosen.reason, asked)
    ready = ready_ones(backports)
    if not ready:
        why = f"line {request.line.version} has no ready backport to release"
        return _refuse(request, CandidateRule.NO_READY_BACKPORTS, why, asked)
    return Decided(_opened(request, view, chosen, ready, rc=rc))


def _opened(
    request: Request, view: LineView, chosen: Allowed, ready: list[BackportState], *, rc: int | None
) -> Outcome:
    version, number = chosen.version, rc or view.next_rc(chosen.version)
    exception = next(
        (e.approved_by for e in view.state.exceptions if Version(e.version) == version), None
    )
    parts = [included(b) for b in ready]
    canary = any(p.rollout_strategy is RolloutStrategy.STAGED_CANARY for p in parts)
    opened = CandidateOpened(
        candidate_id=rc_id(version, number),
        line=request.line.version,
        version=str(version),
        rc=number,
        tag=rc_tag(version, number),
        final_tag=final_tag(version),
        previous_version=str(view.last_published) if view.last_published else None,
        bump=chosen.bump,
        version_exception_by=exception if chosen.exception else None,
        backports=tuple(parts),
        rollout_strategy=RolloutStrategy.STAGED_CANARY if canary else RolloutStrategy.IMMEDIATE,
        emergency=any(p.emergency for p in parts),
        opened_by=request.actor_id,
        opened_at=request.now,
    )
    tickets = ", ".join(str(p.ticket_id) for p in parts)
    why = f"{opened.tag} of line {opened.line} ({chosen.bump.value}) with tickets {tickets}"
    return Outcome(opened, Actor(id=request.actor_id, role=Role.RELEASE_MANAGER), why)


def approve_exception(
    request: Request, view: LineView, *, version: Version, reason: str
) -> Decided:
    """An engineering lead allows `version` (a non-patch bump) on the line, once."""
    asked = str(version)
    if not any(r in request.held_roles for r in EXCEPTION_APPROVERS):
        why = "only an engineering lead approves a version exception"
        return _refuse(request, CandidateRule.EXCEPTION_ROLE, why, asked)
    last = view.last_published
    if last is not None and version <= last:
        why = f"{version} is not above {last}, the line's last published version"
        return _refuse(request, CandidateRule.VERSION_NOT_NEWER, why, asked)
    if version in view.exception_versions():
        return Decided()
    approved = VersionExceptionApproved(
        line=request.line.version,
        version=asked,
        approved_by=request.actor_id,
        reason=reason,
        approved_at=request.now,
    )
    return Decided(
        Outcome(approved, Actor(id=request.actor_id, role=Role.ENGINEERING_LEAD), reason)
    )
