"""The async shell of candidates: load the line (its stream, candidates and backports), decide,
append. The candidate's id is unique by its stream (`NO_STREAM`): two release managers opening a
candidate of the same version at once get rc1 and rc2."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lts_events.actors import Role
from lts_events.clock import Clock
from lts_events.contracts.release.backports import backport_stream
from lts_events.contracts.release.candidates import CandidateOpened, candidate_stream, line_stream
from lts_events.store.port import ANY, NO_STREAM, ConcurrencyError, EventStore
from lts_events.support import LtsLine
from packaging.version import Version

from lts_release.appending import append
from lts_release.backports.domain import BackportState
from lts_release.backports.domain import fold as fold_backport
from lts_release.candidate import CandidateState, load_candidate
from lts_release.candidates.domain import Decided, Request, approve_exception, open_candidate
from lts_release.candidates.lines import LineView, load_line

_ATTEMPTS = 5


class CandidateHandlers:
    def __init__(
        self,
        store: EventStore,
        *,
        clock: Clock,
        lines: Sequence[LtsLine],
        baselines: Mapping[str, Version],
    ) -> None:
        self.store = store
        self.clock = clock
        self.lines = {line.version: line for line in lines}
        self.baselines = dict(baselines)

    def line(self, version: str) -> LtsLine | None:
        return self.lines.get(version)

    async def view(self, line: str) -> LineView:
        view, _ = await load_line(self.store, line, baseline=self.baselines.get(line))
        return view

    async def backports(self, view: LineView) -> list[BackportState]:
        streams = [backport_stream(ticket, view.line) for ticket in view.state.backports]
        if not streams:
            return []
        loaded = await self.store.read_streams(streams)
        return [fold_backport(r.event for r in loaded[s].events) for s in streams]

    async def candidate(self, candidate_id: str) -> tuple[CandidateState, int]:
        """The candidate and its version (its ETag)."""
        state, versions = await load_candidate(self.store, candidate_id)
        return state, versions.model

    async def open(
        self, line: LtsLine, actor_id: str, roles: frozenset[Role], requested: Version | None
    ) -> Decided:
        request = Request(actor_id, roles, line, self.clock())
        view = await self.view(line.version)
        backports = await self.backports(view)
        rc: int | None = None
        for _ in range(_ATTEMPTS):
            decided = open_candidate(request, view, backports, requested=requested, rc=rc)
            if decided.outcome is None or decided.refusal is not None:
                await self._on_line(line.version, decided)
                return decided
            opened = decided.outcome.event
            assert isinstance(opened, CandidateOpened)
            try:
                stream = candidate_stream(opened.candidate_id)
                await append(self.store, stream, [decided.outcome], version=NO_STREAM)
            except ConcurrencyError:  # that RC exists (its listing may lag): take the next
                rc = opened.rc + 1
                continue
            return decided
        raise ConcurrencyError(line_stream(line.version), expected="any", actual=-1)

    async def approve_exception(
        self, line: LtsLine, actor_id: str, roles: frozenset[Role], version: Version, reason: str
    ) -> Decided:
        request = Request(actor_id, roles, line, self.clock())
        decided = approve_exception(
            request, await self.view(line.version), version=version, reason=reason
        )
        await self._on_line(line.version, decided)
        return decided

    async def _on_line(self, line: str, decided: Decided) -> None:
        if decided.outcome is not None:
            await append(self.store, line_stream(line), [decided.outcome], version=ANY)
