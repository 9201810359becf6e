"""The async shell of backports: load the streams, decide, append (with the processed message or
fired timer, and the release-SLA timer the new terms call for). Nothing else.

One triage message can touch a ticket's note stream and several backports (one per line): each
backport's append records the message under its own id (`<message id>:<line>`) and the note
stream's append last under the message id, so a redelivery after a crash finishes what is left
and repeats nothing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lts_events.clock import Clock
from lts_events.consumer import Inbound
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.release.backports import (
    BackportOpened,
    BackportRequestRefused,
    BackportRevised,
    CloseCause,
    PlanApprovalNoted,
    backport_stream,
)
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.ci import CiResultRecorded, ci_stream
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.triage import (
    BackportDecided,
    BackportPlanned,
    Decision,
    PlanApproved,
    TicketClosed,
)
from lts_events.envelope import RecordedEvent
from lts_events.event import Event
from lts_events.http_versions import PreconditionFailed, Tags, Versions, etag, is_stale
from lts_events.store.port import ConcurrencyError, EventStore, StreamHistory, Timer

from lts_release.appending import NO_ORIGIN, Origin, Outcome, append, fired, origin_of
from lts_release.backports.domain import (
    ApproveQaException,
    BackportState,
    Close,
    Command,
    Decided,
    FireReleaseSla,
    Include,
    MarkReleased,
    Open,
    Reassess,
    Replan,
    SignOff,
    decide,
    fold,
    refuse_stale,
    report_for,
)
from lts_release.backports.gates import BranchRuns, GateReport, GateRun
from lts_release.backports.notes import TicketNotes, fold_notes, note, terms_for
from lts_release.backports.policy import BackportPolicy, backport_of_branch

RELEASE_SLA_TIMER = "core.release_sla"
_ATTEMPTS = 5
_KNOWN_BRANCHES = 4096
"""Branches whose gate runs a shell keeps between messages (the least recently used go first)."""
Key = tuple[int, str]


@dataclass(frozen=True, slots=True)
class _KnownRuns:
    """A branch's gate runs folded up to `version` of its CI stream."""

    version: int = 0
    runs: tuple[GateRun, ...] = ()


_NOTHING_KNOWN = _KnownRuns()


def _runs(events: Sequence[RecordedEvent]) -> tuple[GateRun, ...]:
    runs = []
    for recorded in events:
        event = recorded.event
        if isinstance(event, CiResultRecorded):
            run = GateRun.of(event, event_id=str(recorded.event_id))
            if run is not None:
                runs.append(run)
    return tuple(runs)


def sla_timers(key: Key, events: Sequence[Event], *, consumer: str) -> list[Timer]:
    """One timer per release deadline the new terms set (the store keeps the first of an id)."""
    ticket_id, line = key
    timers = []
    for event in events:
        if isinstance(event, BackportOpened | BackportRevised) and event.release_deadline:
            due = event.release_deadline
            timer_id = f"release-sla:{ticket_id}:{line}:{due.isoformat()}"
            stream = backport_stream(ticket_id, line)
            payload = {"deadline": due.isoformat()}
            timers.append(Timer(timer_id, consumer, stream, due, RELEASE_SLA_TIMER, payload))
    return timers


class BackportHandlers:
    def __init__(
        self, store: EventStore, *, policy: BackportPolicy, clock: Clock, consumer: str
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.consumer = consumer
        # Each CI result reassesses its backport on every run of its branch so far: kept here
        # and extended by what was appended since, a result reads and decodes one event of the
        # branch, not all of them again (events never change; another writer's are read too).
        self._known_runs: OrderedDict[str, _KnownRuns] = OrderedDict()

    # -- loading

    async def load(
        self, key: Key, *, branch: str | None = None
    ) -> tuple[BackportState, GateReport, Versions]:
        """The backport, its gates on its branch, and its stream's versions (the read model's is
        its ETag). Naming the `branch` (a CI result's) reads the backport and what its branch
        recorded since the last look in one round trip."""
        stream = backport_stream(*key)
        if branch is None:
            history = (await self.store.read_streams([stream]))[stream]
            branch_runs = None
        else:
            ci = ci_stream(branch)
            known = self._known_runs.get(ci, _NOTHING_KNOWN)
            tails = await self.store.read_stream_tails({stream: 0, ci: known.version})
            history = StreamHistory(stream, tuple(tails[stream]))
            branch_runs = self._remember(ci, known, tails[ci])
        state = fold(recorded.event for recorded in history.events)
        patch_branch = state.terms.patch_branch if state.terms else None
        if patch_branch is None:
            runs = BranchRuns()
        elif patch_branch == branch and branch_runs is not None:
            runs = branch_runs
        else:
            runs = await self.branch_runs(patch_branch)
        versions = Versions.of(history.events, audit_only=(BackportRequestRefused,))
        return state, report_for(state, runs), versions

    async def branch_runs(self, branch: str) -> BranchRuns:
        ci = ci_stream(branch)
        known = self._known_runs.get(ci, _NOTHING_KNOWN)
        tails = await self.store.read_stream_tails({ci: known.version})
        return self._remember(ci, known, tails[ci])

    def _remember(
        self, ci: str, known: _KnownRuns, appended: Sequence[RecordedEvent]
    ) -> BranchRuns:
        """The branch's runs: those known, then those of the events appended since."""
        if appended:
            known = _KnownRuns(appended[-1].stream_version, known.runs + _runs(appended))
        self._known_runs[ci] = known
        self._known_runs.move_to_end(ci)
        if len(self._known_runs) > _KNOWN_BRANCHES:
            self._known_runs.popitem(last=False)
        return BranchRuns(known.runs)

    async def notes(self, ticket_id: int) -> tuple[TicketNotes, int]:
        history = await self.store.read_stream(ticket_stream(ticket_id))
        return fold_notes(recorded.event for recorded in history.events), history.version

    # -- deciding

    async def execute(
        self,
        key: Key,
        command: Command,
        origin: Origin = NO_ORIGIN,
        *,
        branch: str | None = None,
        if_match: Tags | None = None,
    ) -> Decided:
        """Decide on the current streams and append; on a concurrent writer, reload and retry.
        A message that decides nothing is not recorded: deciding it again decides nothing
        again (every decision is idempotent on the state), so a redelivery needs no record, and
        most CI results (pending, running, one more gate of several) cost one round trip.
        A request whose `if_match` names another version is refused (recorded, then
        `PreconditionFailed`); a writer appending between the read and the append makes the
        append fail, so the version is compared again on the reloaded stream."""
        for _ in range(_ATTEMPTS):
            state, report, versions = await self.load(key, branch=branch)
            now = self.clock()
            stale = is_stale(if_match, versions.model)
            if stale and isinstance(command, SignOff | ApproveQaException):
                decided = refuse_stale(command, etag(versions.model), now=now, key=key)
            else:
                decided = decide(state, command, report=report, now=now, key=key)
            if not decided.outcomes and origin.fired_timer is None:
                return decided
            try:
                await append(
                    self.store,
                    backport_stream(*key),
                    decided.outcomes,
                    version=versions.stream,
                    origin=origin,
                    schedule=sla_timers(key, decided.events, consumer=self.consumer),
                )
            except ConcurrencyError:
                continue
            if stale:
                raise PreconditionFailed(versions.model)
            return decided
        raise ConcurrencyError(backport_stream(*key), expected="any", actual=-1)

    async def _note(self, ticket_id: int, events: Sequence[Event], origin: Origin) -> None:
        outcomes = [Outcome(event, reason="noted from triage") for event in events]
        for _ in range(_ATTEMPTS):
            _, version = await self.notes(ticket_id)
            try:
                await append(
                    self.store, ticket_stream(ticket_id), outcomes, version=version, origin=origin
                )
            except ConcurrencyError:
                continue
            return
        raise ConcurrencyError(ticket_stream(ticket_id), expected="any", actual=-1)

    # -- inputs

    async def on_triage(self, inbound: Inbound[Event]) -> None:
        event = inbound.event
        ticket_id = getattr(event, "ticket_id", None)
        if not isinstance(ticket_id, int):
            return
        notes, _ = await self.notes(ticket_id)
        for line, command in self._commands(notes, event):
            await self.execute((ticket_id, line), command, origin_of(inbound, part=line))
        noted = note(notes, event)
        if isinstance(event, PlanApproved) and notes.plan(event.revision) is not None:
            lines = tuple(terms_for(notes, event, policy=self.policy))
            noted.append(
                PlanApprovalNoted(
                    ticket_id=ticket_id,
                    revision=event.revision,
                    lines=lines,
                    approved_at=event.approved_at,
                )
            )
        if noted:
            await self._note(ticket_id, noted, origin_of(inbound))

    def _commands(self, notes: TicketNotes, event: Event) -> list[tuple[str, Command]]:
        """The backport commands a triage event means, per line."""
        open_lines = notes.open_lines
        match event:
            case PlanApproved():
                terms = terms_for(notes, event, policy=self.policy)
                why = f"line not in plan revision {event.revision}"
                commands: list[tuple[str, Command]] = [
                    (line, Close("line_dropped", why)) for line in open_lines if line not in terms
                ]
                return commands + [(line, Open(t)) for line, t in terms.items()]
            case BackportDecided(decision=Decision.BACKPORT):
                return []
            case BackportDecided():
                cause: CloseCause = "rejected" if event.decision is Decision.REJECT else "deferred"
                why = f"re-triage {event.decision.value}: {event.reason}"
                return [(line, Close(cause, why)) for line in open_lines]
            case TicketClosed():
                return [(line, Close("ticket_closed", event.reason)) for line in open_lines]
            case BackportPlanned():
                return [(line, Replan(event.revision)) for line in open_lines]
            case _:
                return []

    async def on_ci_result(self, inbound: Inbound[CiResultRecorded]) -> None:
        key = backport_of_branch(inbound.event.branch)
        if key is not None:
            branch = inbound.event.branch
            await self.execute(key, Reassess(), origin_of(inbound), branch=branch)

    async def on_candidate_opened(self, inbound: Inbound[CandidateOpened]) -> None:
        """Each backport a candidate ships notes it (the ticket's timeline shows the RC)."""
        opened = inbound.event
        for shipped in opened.backports:
            command = Include(opened.candidate_id, opened.version, opened.tag, shipped.commit)
            origin = origin_of(inbound, part=str(shipped.ticket_id))
            await self.execute((shipped.ticket_id, opened.line), command, origin)

    async def on_release_published(self, inbound: Inbound[ReleasePublished]) -> None:
        """Each ticket the release ships is released on its line (and its SLA stops)."""
        published = inbound.event
        command = MarkReleased(published.version, published.candidate_id)
        for ticket_id in published.ticket_ids:
            origin = origin_of(inbound, part=str(ticket_id))
            await self.execute((ticket_id, published.line), command, origin)

    async def on_release_sla(self, timer: Timer) -> None:
        ticket_id, line = timer.stream_id.removeprefix("backport-").split("-", 1)
        deadline = datetime.fromisoformat(str(timer.payload["deadline"]))
        await self.execute((int(ticket_id), line), FireReleaseSla(deadline), fired(timer))
