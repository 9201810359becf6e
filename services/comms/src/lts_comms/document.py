"""One document's life, pure: `fold` its events into a state, `decide` what a command leads to.

Drafts become revisions only when something changed; approvals count for the revision they were
given for; a revision reaches its audience (`DocumentReleased`) as soon as nothing holds it:
the approvals `review.py` requires, and for an advisory the lifted embargo (`embargo.py`). The
release follows the last condition met (an approval, the embargo timer), so a request to
release is either already done or refused with the reasons (recorded, 409)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lts_events.actors import Role
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentAction,
    DocumentApproved,
    DocumentDrafted,
    DocumentKind,
    DocumentRefused,
    DocumentReleased,
    DocumentRequestRefused,
    EmbargoLifted,
    EmbargoSet,
    RefusalKind,
    Renderings,
    RevisionCause,
)
from lts_events.event import Event

from lts_comms import embargo, review

# -- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentState:
    revisions: tuple[DocumentDrafted, ...] = ()
    approvals: Mapping[int, frozenset[Role]] = field(default_factory=dict)
    refused: frozenset[int] = frozenset()
    embargo_until: datetime | None = None
    lifted: EmbargoLifted | None = None
    released: Mapping[Audience, int] = field(default_factory=dict)

    @property
    def latest(self) -> DocumentDrafted | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def embargoed(self) -> bool:
        """An advisory stays under embargo until it is lifted; other documents never are."""
        latest = self.latest
        return (
            latest is not None
            and latest.kind is DocumentKind.SECURITY_ADVISORY
            and self.lifted is None
        )

    def approved(self, revision: int) -> frozenset[Role]:
        return self.approvals.get(revision, frozenset())


def evolve(state: DocumentState, event: Event) -> DocumentState:
    match event:
        case DocumentDrafted():
            return replace(state, revisions=(*state.revisions, event))
        case DocumentApproved():
            roles = state.approved(event.revision) | {event.role}
            return replace(state, approvals={**state.approvals, event.revision: roles})
        case DocumentRefused():
            return replace(state, refused=state.refused | {event.revision})
        case EmbargoSet():
            return replace(state, embargo_until=event.until)
        case EmbargoLifted():
            return replace(state, lifted=event)
        case DocumentReleased():
            return replace(state, released={**state.released, event.audience: event.revision})
    return state


def fold(events: Iterable[Event]) -> DocumentState:
    return fold_onto(DocumentState(), events)


def fold_onto(state: DocumentState, events: Iterable[Event]) -> DocumentState:
    for event in events:
        state = evolve(state, event)
    return state


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftContent:
    """A document as drafting would write it now, from the current facts."""

    document_id: str
    kind: DocumentKind
    audience: Audience
    title: str
    renderings: Renderings
    template: str
    facts: dict[str, Any]
    release_id: str | None = None
    ticket_ids: tuple[int, ...] = ()
    fix_published_at: datetime | None = None
    osv: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Reviewer:
    actor: str
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class Draft:
    content: DraftContent
    drafted_by: str


@dataclass(frozen=True, slots=True)
class Approve:
    reviewer: Reviewer
    revision: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Refuse:
    reviewer: Reviewer
    revision: int
    reason: str


@dataclass(frozen=True, slots=True)
class SetEmbargo:
    reviewer: Reviewer
    until: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RequestRelease:
    reviewer: Reviewer
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class FireEmbargoTimer:
    pass


Command = Draft | Approve | Refuse | SetEmbargo | RequestRelease | FireEmbargoTimer
AUTOMATION = "lts-comms"


@dataclass(frozen=True, slots=True)
class Decided:
    events: tuple[Event, ...] = ()
    refusal: DocumentRequestRefused | None = None


def decide(state: DocumentState, command: Command, *, now: datetime) -> Decided:
    match command:
        case Draft():
            events = _draft(state, command, now=now)
            by = command.drafted_by
        case Approve() | Refuse() | SetEmbargo() | RequestRelease():
            refused = _refusal(state, command, now=now)
            if refused is not None:
                return Decided((refused,), refused)
            events = _reviewed(state, command, now=now)
            by = command.reviewer.actor
        case FireEmbargoTimer():
            events, by = [], AUTOMATION
    return Decided(tuple(events + _follow_ons(fold_onto(state, events), by=by, now=now)))


def _draft(state: DocumentState, draft: Draft, *, now: datetime) -> list[Event]:
    content, latest = draft.content, state.latest
    if latest is not None and _same(latest, content):
        return []
    changes = _changes(latest, content)
    if latest is None:
        cause = RevisionCause.DRAFTED
    elif "rollback" in changes and content.facts.get("rollback"):
        cause = RevisionCause.AMENDED_AFTER_ROLLBACK
    else:
        cause = RevisionCause.REGENERATED
    return [
        DocumentDrafted(
            document_id=content.document_id,
            kind=content.kind,
            revision=(latest.revision + 1) if latest else 1,
            audience=content.audience,
            title=content.title,
            renderings=content.renderings,
            template=content.template,
            facts=content.facts,
            cause=cause,
            changes=changes,
            release_id=content.release_id,
            ticket_ids=content.ticket_ids,
            fix_published_at=content.fix_published_at,
            osv=content.osv,
            drafted_by=draft.drafted_by,
            drafted_at=now,
        )
    ]


def _same(latest: DocumentDrafted, content: DraftContent) -> bool:
    return (
        latest.facts == content.facts
        and latest.renderings == content.renderings
        and latest.title == content.title
        and latest.fix_published_at == content.fix_published_at
    )


def _changes(latest: DocumentDrafted | None, content: DraftContent) -> tuple[str, ...]:
    if latest is None:
        return ()
    keys = set(latest.facts) | set(content.facts)
    changed = sorted(k for k in keys if latest.facts.get(k) != content.facts.get(k))
    if not changed and latest.renderings != content.renderings:
        changed = ["template"]
    if latest.fix_published_at != content.fix_published_at:
        changed.append("fix_published_at")
    return tuple(changed)


# -- reviews -------------------------------------------------------------------------------------

_ACTIONS: dict[type[Any], DocumentAction] = {
    Approve: "approve",
    Refuse: "refuse",
    SetEmbargo: "set_embargo",
    RequestRelease: "release",
}


def _refusal(
    state: DocumentState, command: Approve | Refuse | SetEmbargo | RequestRelease, *, now: datetime
) -> DocumentRequestRefused | None:
    found = _why_not(state, command, now=now)
    if found is None:
        return None
    kind, reason = found
    latest = state.latest
    return DocumentRequestRefused(
        document_id=latest.document_id if latest else "",
        actor=command.reviewer.actor,
        held_roles=tuple(sorted(command.reviewer.roles)),
        action=_ACTIONS[type(command)],
        revision=getattr(command, "revision", None),
        refusal=kind,
        reason=reason,
        refused_at=now,
    )


def refuse_stale(
    state: DocumentState,
    command: Approve | Refuse | SetEmbargo | RequestRelease,
    current_etag: str,
    *,
    now: datetime,
) -> Decided:
    """A request whose `If-Match` names another version than `current_etag`."""
    latest = state.latest
    refused = DocumentRequestRefused(
        document_id=latest.document_id if latest else "",
        actor=command.reviewer.actor,
        held_roles=tuple(sorted(command.reviewer.roles)),
        action=_ACTIONS[type(command)],
        revision=getattr(command, "revision", None),
        refusal=RefusalKind.PRECONDITION_FAILED,
        reason=f"the document changed since it was read: it is now {current_etag}; read it again",
        refused_at=now,
    )
    return Decided((refused,), refused)


def _why_not(
    state: DocumentState, command: Approve | Refuse | SetEmbargo | RequestRelease, *, now: datetime
) -> tuple[RefusalKind, str] | None:
    latest = state.latest
    assert latest is not None, "a document exists once drafted"
    roles = command.reviewer.roles
    match command:
        case Approve() | Refuse():
            approved = state.approved(command.revision)
            if review.reviewing_role(latest.kind, latest.audience, roles, approved) is None:
                needed = sorted(review.required_roles(latest.kind, latest.audience))
                return RefusalKind.FORBIDDEN, f"needs one of the roles {needed or 'none'}"
            return _revision_problem(state, command.revision)
        case SetEmbargo():
            if not roles & review.EMBARGO_ROLES:
                return RefusalKind.FORBIDDEN, "only the security reviewer sets an embargo"
            if latest.kind is not DocumentKind.SECURITY_ADVISORY:
                return RefusalKind.CONFLICT, "only a security advisory is embargoed"
            if state.lifted is not None:
                return RefusalKind.CONFLICT, "the embargo was lifted already"
            return None
        case RequestRelease():
            if not roles & review.RELEASE_ROLES:
                return RefusalKind.FORBIDDEN, "only the communications lead releases a document"
            if command.revision is not None:
                problem = _revision_problem(state, command.revision)
                if problem is not None:
                    return problem
            if state.released.get(latest.audience) == latest.revision:
                return None  # done already: answered as such, nothing appended
            blocking = holds(state, now=now)
            return (RefusalKind.CONFLICT, "; ".join(blocking)) if blocking else None


def _revision_problem(state: DocumentState, revision: int) -> tuple[RefusalKind, str] | None:
    latest = state.latest
    assert latest is not None
    if not 1 <= revision <= latest.revision:
        return RefusalKind.NOT_FOUND, f"no revision {revision}"
    if revision != latest.revision:
        return RefusalKind.CONFLICT, f"revision {revision} is superseded by {latest.revision}"
    if revision in state.refused:
        return RefusalKind.CONFLICT, f"revision {revision} was refused"
    return None


def _reviewed(
    state: DocumentState, command: Approve | Refuse | SetEmbargo | RequestRelease, *, now: datetime
) -> list[Event]:
    latest = state.latest
    assert latest is not None
    reviewer = command.reviewer
    match command:
        case Approve():
            approved = state.approved(command.revision)
            role = review.reviewing_role(latest.kind, latest.audience, reviewer.roles, approved)
            assert role is not None
            if role in approved:
                return []  # a second approval in the same role changes nothing
            return [
                DocumentApproved(
                    document_id=latest.document_id,
                    revision=command.revision,
                    approved_by=reviewer.actor,
                    role=role,
                    comment=command.comment,
                    approved_at=now,
                )
            ]
        case Refuse():
            role = review.reviewing_role(
                latest.kind, latest.audience, reviewer.roles, state.approved(command.revision)
            )
            assert role is not None
            return [
                DocumentRefused(
                    document_id=latest.document_id,
                    revision=command.revision,
                    refused_by=reviewer.actor,
                    role=role,
                    reason=command.reason,
                    refused_at=now,
                )
            ]
        case SetEmbargo():
            return [
                EmbargoSet(
                    document_id=latest.document_id,
                    until=command.until,
                    set_by=reviewer.actor,
                    reason=command.reason,
                    set_at=now,
                )
            ]
        case RequestRelease():
            return []  # released by the follow-ons when nothing holds it


# -- what follows on its own ---------------------------------------------------------------------


def holds(state: DocumentState, *, now: datetime) -> list[str]:
    """Why the latest revision may not reach its audience at `now` (empty: it may)."""
    latest = state.latest
    if latest is None:
        return ["nothing drafted"]
    reasons: list[str] = []
    if latest.revision in state.refused:
        reasons.append(f"revision {latest.revision} was refused")
    missing = review.missing_roles(latest.kind, latest.audience, state.approved(latest.revision))
    if missing:
        reasons.append(f"waiting for approval by {', '.join(sorted(missing))}")
    if state.embargoed:
        reasons.append(
            embargo.blocking_reason(
                fix_published_at=latest.fix_published_at, until=state.embargo_until, now=now
            )
            or "under embargo until it is lifted"
        )
    return reasons


def _follow_ons(state: DocumentState, *, by: str, now: datetime) -> list[Event]:
    """Lift the embargo when it may lift, then release the latest revision when nothing holds
    it: in this order, so that no external release precedes the lift."""
    events: list[Event] = []
    latest = state.latest
    if latest is None:
        return events
    if state.embargoed and embargo.may_lift(
        fix_published_at=latest.fix_published_at, until=state.embargo_until, now=now
    ):
        assert latest.fix_published_at is not None
        lifted = EmbargoLifted(
            document_id=latest.document_id,
            fix_published_at=latest.fix_published_at,
            until=state.embargo_until or latest.fix_published_at,
            lifted_at=now,
        )
        events.append(lifted)
        state = evolve(state, lifted)
    if state.released.get(latest.audience) != latest.revision and not holds(state, now=now):
        events.append(
            DocumentReleased(
                document_id=latest.document_id,
                kind=latest.kind,
                revision=latest.revision,
                audience=latest.audience,
                title=latest.title,
                renderings=latest.renderings,
                release_id=latest.release_id,
                ticket_ids=latest.ticket_ids,
                osv=latest.osv,
                supersedes=state.released.get(latest.audience),
                released_by=by,
                released_at=now,
            )
        )
    return events


def embargo_lift_due(state: DocumentState) -> datetime | None:
    """When the embargo timer should fire: the lift time, while the embargo holds."""
    latest = state.latest
    if latest is None or not state.embargoed:
        return None
    return embargo.lift_at(fix_published_at=latest.fix_published_at, until=state.embargo_until)
