"""Backports, pure: what the release service notes from triage (per ticket), and one backport's
state and decisions (per ticket and line). Time, the gate report and the policy come in as
arguments; no clock, no store, no network here.

Every decision on a backport ends with its readiness assessed again on the new state: ready
when the plan's gates passed on the head commit (`gates.evaluate`), QA signed that commit (or an
engineering lead's exception stands in) and, where the plan requires it, security signed it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from lts_events.actors import Actor, Role
from lts_events.contracts.release.backports import (
    BackportAction,
    BackportClosed,
    BackportIncluded,
    BackportOpened,
    BackportReady,
    BackportReleased,
    BackportReopened,
    BackportReplanned,
    BackportRequestRefused,
    BackportRevised,
    CloseCause,
    PostFactoAuditFlagged,
    QaExceptionApproved,
    RefusalKind,
    ReleaseSlaBreached,
    SignOffKind,
    SignOffRecorded,
)
from lts_events.event import Event

from lts_release.appending import SERVICE, Outcome
from lts_release.backports.gates import BranchRuns, GateReport, evaluate
from lts_release.backports.policy import (
    QA_EXCEPTION_APPROVERS,
    QA_SIGNERS,
    SECURITY_SIGNERS,
)

Terms = BackportOpened | BackportRevised

# ---------------------------------------------------------------- one backport


@dataclass(frozen=True, slots=True)
class BackportState:
    terms: Terms | None = None
    awaiting_revision: int | None = None
    closed: BackportClosed | None = None
    sign_offs: tuple[SignOffRecorded, ...] = ()
    qa_exception: QaExceptionApproved | None = None
    ready: BackportReady | None = None
    audited_commits: frozenset[str] = field(default_factory=frozenset)
    included_in: tuple[BackportIncluded, ...] = ()
    released: BackportReleased | None = None
    sla_breached: bool = False

    @property
    def is_open(self) -> bool:
        return self.terms is not None and self.closed is None and self.released is None

    def signed(self, kind: SignOffKind, commit: str | None) -> SignOffRecorded | None:
        found = [s for s in self.sign_offs if s.kind is kind and s.commit == commit]
        return found[-1] if found else None


def evolve(state: BackportState, event: Event) -> BackportState:
    match event:
        case BackportOpened() | BackportRevised():
            return replace(state, terms=event, awaiting_revision=None, closed=None)
        case BackportReplanned():
            return replace(state, awaiting_revision=event.revision)
        case BackportClosed():
            return replace(state, closed=event, ready=None)
        case SignOffRecorded():
            return replace(state, sign_offs=(*state.sign_offs, event))
        case QaExceptionApproved():
            return replace(state, qa_exception=event)
        case BackportReady():
            return replace(state, ready=event)
        case BackportReopened():
            return replace(state, ready=None)
        case PostFactoAuditFlagged():
            return replace(state, audited_commits=state.audited_commits | {event.commit})
        case BackportIncluded():
            return replace(state, included_in=(*state.included_in, event))
        case BackportReleased():
            return replace(state, released=event)
        case ReleaseSlaBreached():
            return replace(state, sla_breached=True)
        case _:
            return state


def fold(events: Iterable[Event]) -> BackportState:
    state = BackportState()
    for event in events:
        state = evolve(state, event)
    return state


# -- commands


@dataclass(frozen=True, slots=True)
class Open:
    """Open the backport with an approved revision's terms, or revise it with a later one."""

    terms: BackportOpened


@dataclass(frozen=True, slots=True)
class Replan:
    revision: int


@dataclass(frozen=True, slots=True)
class Close:
    cause: CloseCause
    reason: str


@dataclass(frozen=True, slots=True)
class SignOff:
    kind: SignOffKind
    actor_id: str
    held_roles: frozenset[Role]
    commit: str | None = None  # default: the head commit
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ApproveQaException:
    actor_id: str
    held_roles: frozenset[Role]
    reason: str


@dataclass(frozen=True, slots=True)
class Reassess:
    """New CI results on the branch: only the readiness is decided again."""


@dataclass(frozen=True, slots=True)
class Include:
    """A candidate opened with the backport."""

    candidate_id: str
    version: str
    tag: str
    commit: str


@dataclass(frozen=True, slots=True)
class MarkReleased:
    version: str
    candidate_id: str


@dataclass(frozen=True, slots=True)
class FireReleaseSla:
    deadline: datetime


Command = (
    Open
    | Replan
    | Close
    | SignOff
    | ApproveQaException
    | Reassess
    | Include
    | MarkReleased
    | FireReleaseSla
)


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: RefusalKind
    reason: str


@dataclass(frozen=True, slots=True)
class Decided:
    outcomes: tuple[Outcome, ...] = ()
    refusal: Refusal | None = None

    @property
    def events(self) -> list[Event]:
        return [o.event for o in self.outcomes]


def decide(
    state: BackportState,
    command: Command,
    *,
    report: GateReport,
    now: datetime,
    key: tuple[int, str],
) -> Decided:
    """The command's events, then the readiness they lead to. `key`: (ticket id, line)."""
    decided = _command(state, command, report=report, now=now, key=key)
    if decided.refusal is not None:
        return decided
    after = state
    for outcome in decided.outcomes:
        after = evolve(after, outcome.event)
    return Decided((*decided.outcomes, *assess(after, report, now=now, key=key)))


def _command(
    state: BackportState,
    command: Command,
    *,
    report: GateReport,
    now: datetime,
    key: tuple[int, str],
) -> Decided:
    ticket_id, line = key
    match command:
        case Open(terms=terms):
            return Decided(tuple(_open(state, terms)))
        case Replan(revision=revision):
            if not state.is_open or state.terms is None or revision <= state.terms.revision:
                return Decided()
            if state.awaiting_revision == revision:
                return Decided()
            replanned = BackportReplanned(
                ticket_id=ticket_id, line=line, revision=revision, replanned_at=now
            )
            return Decided((Outcome(replanned, reason=f"plan revision {revision} to approve"),))
        case Close(cause=cause, reason=reason):
            if state.closed is not None or state.released is not None or state.terms is None:
                return Decided()
            closed = BackportClosed(
                ticket_id=ticket_id, line=line, cause=cause, reason=reason, closed_at=now
            )
            return Decided((Outcome(closed, reason=reason),))
        case SignOff():
            return _sign_off(state, command, report=report, now=now, key=key)
        case ApproveQaException():
            return _qa_exception(state, command, now=now, key=key)
        case Include():
            return Decided(tuple(_included(state, command, now=now, key=key)))
        case MarkReleased():
            return Decided(tuple(_released(state, command, now=now, key=key)))
        case FireReleaseSla(deadline=deadline):
            return Decided(tuple(_sla(state, deadline, now=now, key=key)))
        case Reassess():
            return Decided()


def _open(state: BackportState, terms: BackportOpened) -> list[Outcome]:
    why = f"plan revision {terms.revision} approved for line {terms.line}"
    if state.terms is None:
        return [Outcome(terms, reason=why)]
    if terms.revision <= state.terms.revision or state.released is not None:
        return []
    revised = BackportRevised(**terms.model_dump())
    return [Outcome(revised, reason=why)]


_SIGNERS = {SignOffKind.QA: QA_SIGNERS, SignOffKind.SECURITY: SECURITY_SIGNERS}
_ACTIONS = {
    SignOffKind.QA: BackportAction.QA_SIGN_OFF,
    SignOffKind.SECURITY: BackportAction.SECURITY_SIGN_OFF,
}


def _sign_off(
    state: BackportState,
    command: SignOff,
    *,
    report: GateReport,
    now: datetime,
    key: tuple[int, str],
) -> Decided:
    refuse = _refuser(command.actor_id, command.held_roles, _ACTIONS[command.kind], now, key)
    signers = _SIGNERS[command.kind]
    role = next((r for r in signers if r in command.held_roles), None)
    if role is None:
        wanted = ", ".join(r.value for r in signers)
        return refuse(RefusalKind.FORBIDDEN, f"a {command.kind.value} sign-off needs: {wanted}")
    if not state.is_open:
        return refuse(RefusalKind.CONFLICT, _not_open(state))
    head = report.commit
    if head is None:
        return refuse(RefusalKind.CONFLICT, "no CI result on the patch branch yet: no commit")
    if command.commit is not None and command.commit != head:
        why = f"commit {command.commit} is not the patch branch's head {head}"
        return refuse(RefusalKind.CONFLICT, why)
    signed = state.signed(command.kind, head)
    if signed is not None and signed.signed_by == command.actor_id:
        return Decided()  # the same sign-off again: nothing new
    ticket_id, line = key
    event = SignOffRecorded(
        ticket_id=ticket_id,
        line=line,
        kind=command.kind,
        commit=head,
        signed_by=command.actor_id,
        role=role,
        comment=command.comment,
        signed_at=now,
    )
    actor = Actor(id=command.actor_id, role=role)
    why = f"{command.kind.value} sign-off of {head}"
    return Decided((Outcome(event, actor, command.comment or why),))


def _qa_exception(
    state: BackportState, command: ApproveQaException, *, now: datetime, key: tuple[int, str]
) -> Decided:
    refuse = _refuser(command.actor_id, command.held_roles, BackportAction.QA_EXCEPTION, now, key)
    if not any(r in command.held_roles for r in QA_EXCEPTION_APPROVERS):
        return refuse(RefusalKind.FORBIDDEN, "a QA exception needs: engineering_lead")
    if not state.is_open:
        return refuse(RefusalKind.CONFLICT, _not_open(state))
    if state.qa_exception is not None:
        return Decided()
    ticket_id, line = key
    event = QaExceptionApproved(
        ticket_id=ticket_id,
        line=line,
        approved_by=command.actor_id,
        reason=command.reason,
        approved_at=now,
    )
    actor = Actor(id=command.actor_id, role=Role.ENGINEERING_LEAD)
    return Decided((Outcome(event, actor, command.reason),))


def _not_open(state: BackportState) -> str:
    if state.released is not None:
        return f"backport already released in {state.released.version}"
    if state.closed is not None:
        return f"backport closed ({state.closed.cause}): {state.closed.reason}"
    return "backport not opened"


def _refuser(
    actor_id: str,
    held: frozenset[Role],
    action: BackportAction,
    now: datetime,
    key: tuple[int, str],
) -> Callable[[RefusalKind, str], Decided]:
    def refuse(kind: RefusalKind, reason: str) -> Decided:
        ticket_id, line = key
        refused = BackportRequestRefused(
            ticket_id=ticket_id,
            line=line,
            actor=actor_id,
            held_roles=tuple(sorted(held)),
            action=action,
            refusal=kind,
            reason=reason,
            refused_at=now,
        )
        role = min(held) if held else Role.REQUESTER
        outcome = Outcome(refused, Actor(id=actor_id, role=role), reason)
        return Decided((outcome,), Refusal(kind, reason))

    return refuse


def refuse_stale(
    command: SignOff | ApproveQaException, current_etag: str, *, now: datetime, key: tuple[int, str]
) -> Decided:
    """A sign-off or exception whose `If-Match` names another version than `current_etag`."""
    action = _ACTIONS[command.kind] if isinstance(command, SignOff) else BackportAction.QA_EXCEPTION
    refuse = _refuser(command.actor_id, command.held_roles, action, now, key)
    why = f"the backport changed since it was read: it is now {current_etag}; read it again"
    return refuse(RefusalKind.PRECONDITION_FAILED, why)


def _included(
    state: BackportState, command: Include, *, now: datetime, key: tuple[int, str]
) -> list[Outcome]:
    if state.terms is None or any(
        i.candidate_id == command.candidate_id for i in state.included_in
    ):
        return []
    ticket_id, line = key
    included = BackportIncluded(
        ticket_id=ticket_id,
        line=line,
        candidate_id=command.candidate_id,
        version=command.version,
        tag=command.tag,
        commit=command.commit,
        included_at=now,
    )
    return [Outcome(included, reason=f"in release candidate {command.tag}")]


def _released(
    state: BackportState, command: MarkReleased, *, now: datetime, key: tuple[int, str]
) -> list[Outcome]:
    if state.terms is None or state.released is not None:
        return []
    deadline = state.terms.release_deadline
    ticket_id, line = key
    released = BackportReleased(
        ticket_id=ticket_id,
        line=line,
        version=command.version,
        candidate_id=command.candidate_id,
        released_at=now,
        within_sla=None if deadline is None else now <= deadline,
    )
    return [Outcome(released, reason=f"published in {command.version}")]


def _sla(
    state: BackportState, deadline: datetime, *, now: datetime, key: tuple[int, str]
) -> list[Outcome]:
    terms = state.terms
    if not state.is_open or state.sla_breached or terms is None or terms.severity is None:
        return []
    if terms.release_deadline != deadline:  # a timer of an earlier revision's deadline
        return []
    ticket_id, line = key
    breached = ReleaseSlaBreached(
        ticket_id=ticket_id, line=line, severity=terms.severity, deadline=deadline, detected_at=now
    )
    why = f"not released by the {terms.severity.value} release SLA ({deadline.isoformat()})"
    return [Outcome(breached, reason=why)]


# -- readiness


def report_for(state: BackportState, runs: BranchRuns) -> GateReport:
    """The gates of the backport's terms on its branch (an emergency: the essential ones)."""
    terms = state.terms
    if terms is None:
        return evaluate((), runs)
    fast_track = terms.essential_gates if terms.emergency else None
    return evaluate(terms.required_gates, runs, fast_track=fast_track)


def missing(state: BackportState, report: GateReport) -> tuple[str, ...]:
    """Everything that keeps the backport from being ready (empty: ready)."""
    terms = state.terms
    if terms is None or not state.is_open:
        return (_not_open(state),)
    gaps: list[str] = []
    if state.awaiting_revision is not None:
        gaps.append(f"plan revision {state.awaiting_revision} awaits approval")
    gaps += report.missing()
    head = report.commit
    if state.signed(SignOffKind.QA, head) is None and state.qa_exception is None:
        gaps.append(f"QA sign-off of {head or 'the head commit'}")
    if terms.security_sign_off_required and state.signed(SignOffKind.SECURITY, head) is None:
        gaps.append(f"security sign-off of {head or 'the head commit'}")
    return tuple(gaps)


def assess(
    state: BackportState, report: GateReport, *, now: datetime, key: tuple[int, str]
) -> list[Outcome]:
    if state.released is not None:
        return []
    gaps = missing(state, report)
    if gaps:
        if state.ready is None or state.closed is not None:
            return []
        return [_reopened(state.ready, report, gaps, now=now)]
    if state.ready is not None and state.ready.commit == report.commit:
        return []
    return _ready(state, report, now=now, key=key)


def _reopened(
    ready: BackportReady, report: GateReport, gaps: Sequence[str], *, now: datetime
) -> Outcome:
    if report.commit != ready.commit:
        why = f"newer commit {report.commit} on {ready.patch_branch}: gates and sign-offs re-open"
    else:
        why = f"not ready any more: {gaps[0]}"
    reopened = BackportReopened(
        ticket_id=ready.ticket_id,
        line=ready.line,
        commit=report.commit,
        missing=tuple(gaps),
        reason=why,
        reopened_at=now,
    )
    return Outcome(reopened, reason=why)


def _ready(
    state: BackportState, report: GateReport, *, now: datetime, key: tuple[int, str]
) -> list[Outcome]:
    terms, commit = state.terms, report.commit
    assert terms is not None  # `missing` is empty: opened, and a head commit
    assert commit is not None
    qa = state.signed(SignOffKind.QA, commit)
    security = state.signed(SignOffKind.SECURITY, commit)
    ticket_id, line = key
    ready = BackportReady(
        ticket_id=ticket_id,
        line=line,
        patch_branch=terms.patch_branch,
        commit=commit,
        gates=tuple(g.evidence() for g in report.gates),
        qa_signed_by=qa.signed_by if qa else None,
        qa_exception_by=state.qa_exception.approved_by
        if qa is None and state.qa_exception
        else None,
        security_signed_by=security.signed_by if security else None,
        fast_tracked=terms.emergency,
        skipped_gates=report.skipped,
        ready_at=now,
    )
    outcomes = [Outcome(ready, SERVICE, f"ready on {commit}")]
    if report.skipped and commit not in state.audited_commits:
        skipped = ", ".join(g.value for g in report.skipped)
        why = f"emergency fast-track ready on {commit} without gates {skipped}: post-facto audit"
        flagged = PostFactoAuditFlagged(
            ticket_id=ticket_id,
            line=line,
            commit=commit,
            skipped_gates=report.skipped,
            reason=why,
            flagged_at=now,
        )
        outcomes.append(Outcome(flagged, SERVICE, why))
    return outcomes
