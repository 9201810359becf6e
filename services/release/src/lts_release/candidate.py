"""The Candidate: the state of one release candidate, folded over its stream `candidate-{id}`.

`CandidateOpened` (core) starts it; each later part of the release service adds its own events
here, in its own section: a field (or a few) on `CandidateState` holding what the part needs, and
one `case` in `evolve` per event. Keep the fold pure (no clock, no I/O) and tolerant: an event
of a part comes only after `CandidateOpened`, and a redelivered event must leave the state as it
was. `status_of` names where the candidate stands for the read model; extend it with the part's
statuses, latest stage first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from lts_events.contracts.release.candidates import CandidateOpened, candidate_stream
from lts_events.contracts.release.publication import (
    ChannelPublished,
    PublicationRefused,
    ReleaseMarkedUnsafe,
    ReleasePublished,
    ReleaseYanked,
)
from lts_events.contracts.release.staging import ArtifactStored, CandidateSealed
from lts_events.event import Event
from lts_events.http_versions import Versions
from lts_events.store.port import EventStore


@dataclass(frozen=True, slots=True)
class CandidateState:
    # -- core (relcore): the candidate as opened
    opened: CandidateOpened | None = None

    # -- staging (relstage): artifacts (and CI's SBOMs) in upload order, then the seal
    staged: tuple[ArtifactStored, ...] = ()
    sealed: CandidateSealed | None = None

    # -- publication (relpub): the channels holding the release (first record per channel),
    # the one ReleasePublished, the channels it was yanked from or marked unsafe on
    channels: tuple[ChannelPublished, ...] = ()
    published: ReleasePublished | None = None
    withdrawn_from: frozenset[str] = frozenset()

    # -- rollout (relroll): rollout, rollback

    @property
    def exists(self) -> bool:
        return self.opened is not None

    @property
    def candidate_id(self) -> str | None:
        return self.opened.candidate_id if self.opened else None


def evolve(state: CandidateState, event: Event) -> CandidateState:
    match event:
        case CandidateOpened() if state.opened is None:
            return replace(state, opened=event)
        # -- staging (relstage)
        case ArtifactStored() if state.sealed is None and event not in state.staged:
            return replace(state, staged=(*state.staged, event))
        case CandidateSealed() if state.sealed is None:
            return replace(state, sealed=event)
        # -- publication (relpub)
        case ChannelPublished() if state.published is None and event.channel not in {
            held.channel for held in state.channels
        }:
            return replace(state, channels=(*state.channels, event))
        case ReleasePublished() if state.published is None:
            return replace(state, published=event)
        case ReleaseYanked():
            return replace(state, withdrawn_from=state.withdrawn_from | {event.channel})
        case ReleaseMarkedUnsafe():
            return replace(state, withdrawn_from=state.withdrawn_from | set(event.channels))
        # -- rollout (relroll)
        case _:
            return state


def fold(events: Iterable[Event], state: CandidateState = CandidateState()) -> CandidateState:
    for event in events:
        state = evolve(state, event)
    return state


def status_of(state: CandidateState) -> str:
    """Where the candidate stands: the latest stage reached. Parts add theirs above `open`."""
    if state.opened is None:
        return "unknown"
    if state.withdrawn_from:
        return "withdrawn"
    if state.published is not None:
        return "published"
    if state.channels:
        return "publishing"
    if state.sealed is not None:
        return "sealed"
    if state.staged:
        return "staging"
    return "open"


async def load_candidate(store: EventStore, candidate_id: str) -> tuple[CandidateState, Versions]:
    """The candidate's state and its stream's versions: `stream` for the next append's
    expectation, `model` the read model's (its ETag; a refused publication is no change)."""
    history = await store.read_stream(candidate_stream(candidate_id))
    versions = Versions.of(history.events, audit_only=(PublicationRefused,))
    return fold(recorded.event for recorded in history.events), versions
