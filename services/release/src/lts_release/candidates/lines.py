"""A line's state and read model: its stream `line-{X.Y}` (candidates and backports listed,
version exceptions) and its candidates folded (`candidate.py`), so what was published, yanked
or marked unsafe is read from the candidates themselves, not copied.

`last_published` (the base of the next version) counts every published version, withdrawn or
not: a version number is never reused. `safe` is the newest published version never withdrawn.
A deployment's releases from before this service are its baseline
(`LTS_RELEASE_CORE_RELEASED_VERSIONS`), counted as published and safe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from lts_events.contracts.release.candidates import (
    BackportListed,
    CandidateListed,
    VersionExceptionApproved,
    candidate_stream,
    line_stream,
)
from lts_events.event import Event
from lts_events.store.port import EventStore
from packaging.version import Version

from lts_release.candidate import CandidateState
from lts_release.candidate import fold as fold_candidate


@dataclass(frozen=True, slots=True)
class LineState:
    candidates: tuple[CandidateListed, ...] = ()
    backports: tuple[int, ...] = ()  # ticket ids, in the order their backports opened
    exceptions: tuple[VersionExceptionApproved, ...] = ()


def evolve(state: LineState, event: Event) -> LineState:
    match event:
        case CandidateListed() if event.candidate_id not in {
            c.candidate_id for c in state.candidates
        }:
            return replace(state, candidates=(*state.candidates, event))
        case BackportListed() if event.ticket_id not in state.backports:
            return replace(state, backports=(*state.backports, event.ticket_id))
        case VersionExceptionApproved():
            return replace(state, exceptions=(*state.exceptions, event))
        case _:
            return state


def fold(events: Iterable[Event]) -> LineState:
    state = LineState()
    for event in events:
        state = evolve(state, event)
    return state


@dataclass(frozen=True, slots=True)
class Release:
    """A published version of the line."""

    version: Version
    candidate: CandidateState | None  # None: the baseline, from before this service
    withdrawn: bool


@dataclass(frozen=True, slots=True)
class LineView:
    line: str
    state: LineState
    candidates: dict[str, CandidateState] = field(default_factory=dict)
    baseline: Version | None = None

    def releases(self) -> list[Release]:
        """Published versions, newest first."""
        found = [
            Release(Version(c.published.version), c, withdrawn=bool(c.withdrawn_from))
            for c in self.candidates.values()
            if c.published is not None
        ]
        if self.baseline is not None and all(r.version != self.baseline for r in found):
            found.append(Release(self.baseline, None, withdrawn=False))
        return sorted(found, key=lambda r: r.version, reverse=True)

    @property
    def last_published(self) -> Version | None:
        releases = self.releases()
        return releases[0].version if releases else None

    @property
    def safe(self) -> Version | None:
        return next((r.version for r in self.releases() if not r.withdrawn), None)

    def exception_versions(self) -> set[Version]:
        return {Version(e.version) for e in self.state.exceptions}

    def next_rc(self, version: Version) -> int:
        return 1 + sum(1 for c in self.state.candidates if Version(c.version) == version)


async def load_line(
    store: EventStore, line: str, *, baseline: Version | None = None
) -> tuple[LineView, int]:
    """The line and its candidates (two round trips), and the line stream's version."""
    history = await store.read_stream(line_stream(line))
    state = fold(recorded.event for recorded in history.events)
    streams = [candidate_stream(c.candidate_id) for c in state.candidates]
    loaded = await store.read_streams(streams) if streams else {}
    candidates = {
        c.candidate_id: fold_candidate(
            r.event for r in loaded[candidate_stream(c.candidate_id)].events
        )
        for c in state.candidates
    }
    return LineView(line, state, candidates, baseline), history.version
