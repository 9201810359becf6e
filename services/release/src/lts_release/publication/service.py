"""The publication shell: load the candidate, ask the channels, append what happened.

Idempotent by construction: a channel already recorded (`ChannelPublished`) is not asked
again, a channel asked again sends only what it does not hold, and `ReleasePublished` is
appended with the stream's expected version, so two publishes racing record it once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lts_events.actors import Actor, Role
from lts_events.clock import Clock
from lts_events.contracts.release.candidates import CandidateListed, candidate_stream, line_stream
from lts_events.contracts.release.publication import (
    ChannelPublished,
    PublicationFailed,
    PublicationRefused,
    PublicationRule,
    ReleasePublished,
)
from lts_events.http_versions import PreconditionFailed, Tags, Versions, etag, is_stale
from lts_events.store.port import ANY, ConcurrencyError, EventStore
from packaging.version import Version

from lts_release.appending import Outcome, append
from lts_release.candidate import CandidateState, load_candidate
from lts_release.channels.base import (
    Channel,
    ChannelError,
    FileSource,
    TransientChannelError,
    Withdrawing,
    Withdrawn,
)
from lts_release.publication.decide import (
    LineRelease,
    PublicationView,
    Refusal,
    may_publish,
    may_withdraw,
    previous_safe_version,
    release_published,
    sealed_release,
    stale,
    withdrawal_events,
)

ChannelsFor = Callable[[str | None], Sequence[Channel]]
"""The configured channels, given the base URL the release page is reached at (None: the
configured one, or relative links)."""

APPEND_ATTEMPTS = 5


class CandidateNotFound(LookupError):
    pass


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


class ChannelFailed(Exception):
    """A channel refused for good; recorded as `PublicationFailed`."""

    def __init__(self, channel: str, error: ChannelError) -> None:
        super().__init__(f"{channel}: {error}")
        self.channel = channel
        self.error = error


class ChannelUnavailable(Exception):
    """A channel failed transiently after its retries; nothing recorded, try again later."""

    def __init__(self, channel: str, error: ChannelError) -> None:
        super().__init__(f"{channel}: {error}")
        self.channel = channel
        self.error = error


@dataclass(frozen=True)
class Withdrawal:
    """What a withdraw did now (`outcomes`), and every channel the version is withdrawn
    from since (`withdrawn_from`, including earlier withdrawals: a retry answers the same)."""

    outcomes: tuple[Withdrawn, ...]
    withdrawn_from: frozenset[str]


def view_of(state: CandidateState) -> PublicationView:
    return PublicationView(
        opened=state.opened,
        staged=state.staged,
        sealed=state.sealed,
        channels={held.channel: held for held in state.channels},
        published=state.published,
        withdrawn=state.withdrawn_from,
    )


@dataclass
class Publication:
    store: EventStore
    source: FileSource
    channels: ChannelsFor
    clock: Clock
    # Each line's last release from before this service (LTS_RELEASE_CORE_RELEASED_VERSIONS):
    # the safe version a line's first release here rolls back to.
    baselines: Mapping[str, Version] = field(default_factory=dict)

    async def candidate(self, candidate_id: str) -> CandidateState:
        state, _ = await self._existing(candidate_id)
        return state

    async def _existing(self, candidate_id: str) -> tuple[CandidateState, Versions]:
        state, versions = await load_candidate(self.store, candidate_id)
        if not state.exists:
            raise CandidateNotFound(f"no candidate {candidate_id}")
        return state, versions

    async def _precondition(
        self,
        candidate_id: str,
        if_match: Tags | None,
        current: int,
        *,
        actor_id: str,
        roles: frozenset[Role],
        action: Literal["publish", "withdraw"],
    ) -> None:
        """Refuse (recorded, then 412) a request whose `If-Match` names another version. The
        channels act on the outside before anything is appended, so the version is compared
        when the candidate is read, before any channel is asked: not atomically with the
        appends, which a concurrent publish or withdraw makes harmless (channels skip what
        they hold, `ReleasePublished` is appended once)."""
        if is_stale(if_match, current):
            await self._refused(candidate_id, actor_id, roles, action, stale(etag(current)))
            raise PreconditionFailed(current)

    async def publish(
        self,
        candidate_id: str,
        *,
        actor_id: str,
        roles: Iterable[Role],
        base_url: str | None = None,
        if_match: Tags | None = None,
    ) -> tuple[ReleasePublished, bool]:
        """Publish the sealed candidate to every channel; the event and whether it is new.
        `PreconditionFailed` (recorded) when `if_match` names another version."""
        held = frozenset(roles)
        state, versions = await self._existing(candidate_id)
        await self._precondition(
            candidate_id,
            if_match,
            versions.model,
            actor_id=actor_id,
            roles=held,
            action="publish",
        )
        view = view_of(state)
        refusal = may_publish(view, held)
        if refusal is not None:
            await self._refused(candidate_id, actor_id, held, "publish", refusal)
            raise Refused(refusal)
        if view.published is not None:
            return view.published, False
        actor = Actor(id=actor_id, role=Role.RELEASE_MANAGER)
        release = sealed_release(view)
        stream = candidate_stream(candidate_id)
        for channel in self.channels(base_url):
            if channel.name in view.channels:
                continue
            try:
                published = await channel.publish(release, self.source)
            except TransientChannelError as error:
                raise ChannelUnavailable(channel.name, error) from error
            except ChannelError as error:
                failed = PublicationFailed(
                    candidate_id=candidate_id,
                    version=release.version,
                    channel=channel.name,
                    error=str(error),
                    file=error.file,
                    status_code=error.status_code,
                    failed_at=self.clock(),
                )
                await append(self.store, stream, [Outcome(failed, actor, str(error))], version=ANY)
                raise ChannelFailed(channel.name, error) from error
            recorded = ChannelPublished(
                candidate_id=candidate_id,
                version=release.version,
                line=release.line,
                channel=channel.name,
                files=published.files,
                page_url=published.page_url,
                published_at=self.clock(),
            )
            reason = f"{release.version} published to {channel.name}"
            await append(self.store, stream, [Outcome(recorded, actor, reason)], version=ANY)
        return await self._record_published(candidate_id, actor)

    async def _record_published(
        self, candidate_id: str, actor: Actor
    ) -> tuple[ReleasePublished, bool]:
        for _ in range(APPEND_ATTEMPTS):
            state, versions = await load_candidate(self.store, candidate_id)
            if state.published is not None:
                return state.published, False
            view = view_of(state)
            release = sealed_release(view)
            event = release_published(
                release,
                state.channels,
                previous_safe=await self._previous_safe(release.line, release.version),
                published_by=actor.id,
                published_at=self.clock(),
            )
            try:
                await append(
                    self.store,
                    candidate_stream(candidate_id),
                    [
                        Outcome(
                            event,
                            actor,
                            f"{release.version} released on {', '.join(event.channels)}",
                        )
                    ],
                    version=versions.stream,
                )
            except ConcurrencyError:
                continue
            return event, True
        raise ConcurrencyError(candidate_stream(candidate_id), expected=ANY, actual=-1)

    async def _line_releases(self, line: str) -> list[tuple[CandidateState, LineRelease]]:
        history = await self.store.read_stream(line_stream(line))
        candidate_ids = dict.fromkeys(
            recorded.event.candidate_id
            for recorded in history.events
            if isinstance(recorded.event, CandidateListed)
        )
        found = []
        for candidate_id in candidate_ids:
            state, _ = await load_candidate(self.store, candidate_id)
            if state.published is not None:
                release = LineRelease(state.published.version, withdrawn=bool(state.withdrawn_from))
                found.append((state, release))
        return found

    async def _previous_safe(self, line: str, version: str) -> str | None:
        releases = [r for _, r in await self._line_releases(line)]
        baseline = self.baselines.get(line)
        if baseline is not None:
            releases.append(LineRelease(str(baseline), withdrawn=False))
        return previous_safe_version(releases, version)

    async def withdraw(
        self,
        candidate_id: str,
        *,
        actor: Actor,
        reason: str,
        roles: Iterable[Role] | None = None,
        if_match: Tags | None = None,
    ) -> Withdrawal:
        """Yank the published version where a channel can, mark it unsafe elsewhere. `roles`
        are the HTTP caller's (checked); None for the service's own rollback.
        `PreconditionFailed` (recorded) when `if_match` names another version."""
        state, versions = await self._existing(candidate_id)
        await self._precondition(
            candidate_id,
            if_match,
            versions.model,
            actor_id=actor.id,
            roles=frozenset(roles or ()),
            action="withdraw",
        )
        view = view_of(state)
        refusal = (
            may_withdraw(view, roles)
            if roles is not None
            else (
                Refusal(PublicationRule.NOT_PUBLISHED, "only a published version is withdrawn")
                if view.published is None
                else None
            )
        )
        if refusal is not None:
            await self._refused(candidate_id, actor.id, frozenset(roles or ()), "withdraw", refusal)
            raise Refused(refusal)
        published = view.published
        assert published is not None
        withdrawing = Withdrawing(candidate_id, published.version, published.line, reason)
        outcomes: list[Withdrawn] = []
        for channel in self.channels(None):
            if channel.name not in view.channels or channel.name in view.withdrawn:
                continue
            try:
                outcomes.append(await channel.withdraw(withdrawing))
            except TransientChannelError as error:
                raise ChannelUnavailable(channel.name, error) from error
            except ChannelError:
                outcomes.append(Withdrawn(channel.name, "marked_unsafe"))
        events = withdrawal_events(
            published,
            outcomes,
            already=view.withdrawn,
            reason=reason,
            actor=actor.id,
            at=self.clock(),
        )
        if events:
            await append(
                self.store,
                candidate_stream(candidate_id),
                [Outcome(event, actor, reason) for event in events],
                version=ANY,
            )
        return Withdrawal(
            tuple(outcomes), view.withdrawn | {outcome.channel for outcome in outcomes}
        )

    async def withdraw_version(self, version: str, *, actor: Actor, reason: str) -> Withdrawal:
        """Withdraw a published version by its number (the rollback knows versions)."""
        line = ".".join(version.split(".")[:2])
        for state, release in await self._line_releases(line):
            if release.version == version and state.candidate_id is not None:
                return await self.withdraw(state.candidate_id, actor=actor, reason=reason)
        raise CandidateNotFound(f"no published candidate of {version}")

    async def _refused(
        self,
        candidate_id: str,
        actor_id: str,
        roles: frozenset[Role],
        action: Literal["publish", "withdraw"],
        refusal: Refusal,
    ) -> None:
        event = PublicationRefused(
            candidate_id=candidate_id,
            actor=actor_id,
            held_roles=tuple(sorted(roles)),
            action=action,
            rule=refusal.rule,
            reason=refusal.reason,
            refused_at=self.clock(),
        )
        role = next(iter(sorted(roles)), Role.AUTOMATION)
        await append(
            self.store,
            candidate_stream(candidate_id),
            [Outcome(event, Actor(id=actor_id, role=role), refusal.reason)],
            version=ANY,
        )
