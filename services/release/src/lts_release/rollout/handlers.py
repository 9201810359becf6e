"""The rollout shell: load a rollout's stream, decide, append (with the message or timer it
answers and the timers the new events call for). I/O that decisions wait on (Prometheus
queries, the channels of a rollback) happens here, before the decision it feeds."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from lts_events.clock import Clock
from lts_events.consumer import Inbound, PermanentError, RawMessage
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.release.rollout import (
    RollbackAttemptFailed,
    RollbackStarted,
    RolloutPhaseStarted,
    RolloutRequestRefused,
    rollout_stream,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.http_versions import PreconditionFailed, Tags, Versions, etag, is_stale
from lts_events.store.port import ConcurrencyError, EventStore, ProcessedMessage, Timer
from pydantic import ValidationError

from lts_release.appending import Origin, Outcome, append, fired, origin_of
from lts_release.candidate import load_candidate
from lts_release.rollout.channels import RollbackChannels
from lts_release.rollout.machine import (
    Command,
    Decided,
    PhaseDue,
    RecordReading,
    Refusal,
    RequestRollback,
    Resume,
    RollbackDeadlinePassed,
    RollbackFailed,
    RollbackSucceeded,
    StartRollout,
    decide,
    refuse_stale,
)
from lts_release.rollout.policy import RolloutPolicy, phase_thresholds
from lts_release.rollout.prometheus import Prometheus
from lts_release.rollout.readings import (
    MalformedHealthEvent,
    alert_reading,
    concerns,
    health_alerts,
    metric_reading,
    render_query,
)
from lts_release.rollout.state import RolloutState, evolve, fold

log = logging.getLogger(__name__)

PHASE_DUE = "rollout.phase"
ANALYSIS_DUE = "rollout.analysis"
ROLLBACK_ATTEMPT = "rollout.rollback_attempt"
ROLLBACK_DEADLINE = "rollout.rollback_deadline"
_ATTEMPTS = 5
NO_ORIGIN = Origin()


class RolloutHandlers:
    def __init__(
        self,
        store: EventStore,
        *,
        policy: RolloutPolicy,
        clock: Clock,
        channels: RollbackChannels,
        consumer: str = "release",
        prometheus: Prometheus | None = None,
        queries: Mapping[str, str] | None = None,
        analysis_interval: timedelta = timedelta(minutes=1),
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.channels = channels
        self.consumer = consumer
        self.prometheus = prometheus
        self.queries = dict(queries or {})
        self.analysis_interval = analysis_interval

    async def load(self, rollout_id: str) -> tuple[RolloutState, Versions]:
        """The rollout and its stream's versions (the read model's is its ETag)."""
        history = await self.store.read_stream(rollout_stream(rollout_id))
        versions = Versions.of(history.events, audit_only=(RolloutRequestRefused,))
        return fold(recorded.event for recorded in history.events), versions

    async def execute(
        self,
        rollout_id: str,
        commands: Sequence[Command],
        origin: Origin = NO_ORIGIN,
        then: Callable[[RolloutState], Sequence[Timer]] | None = None,
        *,
        if_match: Tags | None = None,
    ) -> Decided:
        """Decide the commands in order on the current stream and append their events at
        once, with the timers they call for and those `then` asks for the state after them;
        on a concurrent writer, reload and decide again. A request whose `if_match` names
        another version is refused (recorded, then `PreconditionFailed`), compared again on
        each reload: a writer appending after the read makes the append fail, never pass."""
        for _ in range(_ATTEMPTS):
            state, versions = await self.load(rollout_id)
            stale = is_stale(if_match, versions.model)
            if stale:
                decided, after = self._refuse_stale(rollout_id, commands, versions.model), state
            else:
                decided, after = self._decide_all(state, rollout_id, commands)
            if not decided.outcomes and not origin.answers_something:
                return decided
            schedule = self.timers_for(rollout_id, decided.events)
            if then is not None:
                schedule += then(after)
            try:
                await append(
                    self.store,
                    rollout_stream(rollout_id),
                    decided.outcomes,
                    version=versions.stream,
                    origin=origin,
                    schedule=schedule,
                )
            except ConcurrencyError:
                continue
            if stale:
                raise PreconditionFailed(versions.model)
            return decided
        raise ConcurrencyError(rollout_stream(rollout_id), expected="any", actual=-1)

    def _refuse_stale(self, rollout_id: str, commands: Sequence[Command], current: int) -> Decided:
        request = next(c for c in commands if isinstance(c, Resume | RequestRollback))
        return refuse_stale(
            request, etag(current), rollout_id=rollout_id, now=self.clock(), policy=self.policy
        )

    def _decide_all(
        self, state: RolloutState, rollout_id: str, commands: Sequence[Command]
    ) -> tuple[Decided, RolloutState]:
        now = self.clock()
        outcomes: list[Outcome] = []
        refusal: Refusal | None = None
        for command in commands:
            decided = decide(state, command, rollout_id=rollout_id, now=now, policy=self.policy)
            outcomes += decided.outcomes
            refusal = refusal or decided.refusal
            for event in decided.events:
                state = evolve(state, event)
        return Decided(tuple(outcomes), refusal), state

    # -- timers ---------------------------------------------------------------------------

    def timers_for(self, rollout_id: str, events: Sequence[Event]) -> list[Timer]:
        """A phase's end (and, with Prometheus, its first analysis); a rollback's first
        attempt, its retries and its deadline. Ids name the decision they were scheduled for
        (a resumed phase starts anew, so its start time is in the id)."""
        stream = rollout_stream(rollout_id)
        timers: list[Timer] = []
        for event in events:
            match event:
                case RolloutPhaseStarted():
                    key = f"{rollout_id}:{event.phase}:{event.started_at.isoformat()}"
                    payload = {"phase": event.phase, "key": key}
                    timers.append(
                        Timer(
                            f"{PHASE_DUE}:{key}",
                            self.consumer,
                            stream,
                            event.analysis_until,
                            PHASE_DUE,
                            payload,
                        )
                    )
                    if self.prometheus is not None:
                        due = event.started_at + self.analysis_interval
                        timers.append(self._analysis_timer(stream, key, event.phase, 1, due))
                case RollbackStarted():
                    timers += [
                        Timer(
                            f"{ROLLBACK_ATTEMPT}:{rollout_id}:1",
                            self.consumer,
                            stream,
                            event.started_at,
                            ROLLBACK_ATTEMPT,
                            {"attempt": 1},
                        ),
                        Timer(
                            f"{ROLLBACK_DEADLINE}:{rollout_id}",
                            self.consumer,
                            stream,
                            event.deadline,
                            ROLLBACK_DEADLINE,
                        ),
                    ]
                case RollbackAttemptFailed():
                    attempt = event.attempt + 1
                    timers.append(
                        Timer(
                            f"{ROLLBACK_ATTEMPT}:{rollout_id}:{attempt}",
                            self.consumer,
                            stream,
                            event.retry_at,
                            ROLLBACK_ATTEMPT,
                            {"attempt": attempt},
                        )
                    )
        return timers

    def _analysis_timer(self, stream: str, key: str, phase: int, n: int, due: datetime) -> Timer:
        return Timer(
            f"{ANALYSIS_DUE}:{key}:{n}",
            self.consumer,
            stream,
            due,
            ANALYSIS_DUE,
            {"phase": phase, "key": key, "n": n},
        )

    @staticmethod
    def rollout_of(timer: Timer) -> str:
        return timer.stream_id.removeprefix("rollout-")

    async def on_phase_due(self, timer: Timer) -> None:
        phase = int(timer.payload["phase"])
        await self.execute(self.rollout_of(timer), [PhaseDue(phase)], fired(timer))

    async def on_rollback_deadline(self, timer: Timer) -> None:
        await self.execute(self.rollout_of(timer), [RollbackDeadlinePassed()], fired(timer))

    async def on_rollback_attempt(self, timer: Timer) -> None:
        """Ask the channels to re-promote the safe version and withdraw the rolled-back one;
        their answer decides `RolledBack` or a retry."""
        rollout_id = self.rollout_of(timer)
        state, _ = await self.load(rollout_id)
        rollback = state.rollback
        if rollback is None or state.status != "rolling_back":
            await self.execute(rollout_id, [], fired(timer))
            return
        result: Command
        try:
            withdrawn = await self.channels.roll_back(
                candidate_id=rollback.candidate_id,
                line=rollback.line,
                from_version=rollback.from_version,
                to_version=rollback.to_version,
                reason=rollback.reason,
            )
        except Exception as error:
            log.warning(
                "rollback attempt failed", extra={"rollout": rollout_id, "error": str(error)}
            )
            result = RollbackFailed(f"{type(error).__name__}: {error}")
        else:
            result = RollbackSucceeded(tuple(withdrawn))
        await self.execute(rollout_id, [result], fired(timer))

    async def on_analysis_due(self, timer: Timer) -> None:
        """Query Prometheus for every metric the phase has a threshold and a query for,
        record the readings, and schedule the next round while the phase is watched."""
        rollout_id = self.rollout_of(timer)
        state, _ = await self.load(rollout_id)
        phase, key, n = (
            int(timer.payload["phase"]),
            str(timer.payload["key"]),
            int(timer.payload["n"]),
        )
        started = state.started
        watching = state.status in ("progressing", "halted") and state.phase == phase
        if started is None or self.prometheus is None or not watching:
            await self.execute(rollout_id, [], fired(timer))
            return
        commands: list[Command] = []
        for metric, threshold in phase_thresholds(started.phases, phase).items():
            template = self.queries.get(metric)
            if template is None:
                continue
            query = render_query(
                template, version=started.version, line=started.line, service=started.service
            )
            value, why = await self.prometheus.value(query)
            commands.append(
                RecordReading(
                    metric_reading(
                        metric, threshold=threshold, value=value, why=why, now=self.clock()
                    )
                )
            )

        def next_round(after: RolloutState) -> list[Timer]:
            if after.status in ("progressing", "halted") and after.phase == phase:
                due = self.clock() + self.analysis_interval
                return [self._analysis_timer(timer.stream_id, key, phase, n + 1, due)]
            return []

        await self.execute(rollout_id, commands, fired(timer), then=next_round)

    # -- publications ---------------------------------------------------------------------

    async def on_release_published(self, inbound: Inbound[ReleasePublished]) -> None:
        """A published release starts its rollout (id = the version) with the strategy its
        candidate's plans chose; an emergency fast-track skips analysis, audited."""
        published = inbound.event
        candidate, _ = await load_candidate(self.store, published.candidate_id)
        opened = candidate.opened
        strategy = opened.rollout_strategy if opened else RolloutStrategy.STAGED_CANARY
        emergency = opened is not None and opened.emergency
        command = StartRollout(
            rollout_id=published.version,
            version=published.version,
            line=published.line,
            previous_safe_version=published.previous_safe_version,
            strategy=strategy,
            candidate_id=published.candidate_id,
            ticket_ids=published.ticket_ids,
            skip_analysis_reason=(
                f"emergency fast-track of candidate {published.candidate_id}" if emergency else None
            ),
            fast_track_approved=emergency,
        )
        # its own processed id: one of several parts answering the message (kafka.fan_out)
        await self.execute(published.version, [command], origin_of(inbound, part="rollout"))

    # -- health alerts --------------------------------------------------------------------

    async def on_health_message(self, message: RawMessage) -> None:
        """A CloudEvent on the health topic: each alert naming a version under rollout is a
        reading of that rollout (alerts for other versions or services are not ours)."""
        try:
            envelope = Envelope.from_kafka(message.value, message.headers)
            alerts = health_alerts(envelope.data)
        except MalformedHealthEvent as error:
            raise PermanentError(f"health event {message.message_id}: {error}") from None
        except (ValueError, ValidationError) as error:
            raise PermanentError(f"not a CloudEvent: {str(error)[:300]}") from None
        for index, alert in enumerate(alerts):
            version = alert.version
            if version is None:
                continue
            state, _ = await self.load(version)
            if state.started is None or not concerns(alert, state.started):
                continue
            suffix = f"#{index}" if len(alerts) > 1 else ""
            origin = Origin(
                processed=ProcessedMessage(self.consumer, f"{message.message_id}{suffix}"),
                correlation_id=envelope.correlationid or envelope.id,
                causation_id=envelope.id,
                traceparent=envelope.traceparent,
            )
            reading = alert_reading(
                alert, critical_severities=self.policy.critical_severities, now=self.clock()
            )
            await self.execute(version, [RecordReading(reading)], origin)
