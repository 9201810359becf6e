"""Sample release-service events (as its relay puts them on Kafka) for tests and benchmarks:
backports with their release deadlines, candidates, publications, rollouts and rollbacks, CI
results. Each returns the envelope of one valid event of the release contracts."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

from lts_events.actors import Actor, Role, automation
from lts_events.contracts.release import backports, candidates, ci, publication, rollout
from lts_events.contracts.triage import RolloutStrategy
from lts_events.envelope import Envelope
from lts_events.event import Event

RELEASE_MANAGER = Actor(id="rita", role=Role.RELEASE_MANAGER)
_SHA = "0" * 64


def _wrap(event: Event, subject: str, at: datetime, actor: Actor | None = None) -> Envelope:
    actor = actor or automation("release")
    return Envelope(
        id=str(uuid4()),
        source="lts-flow/release",
        type=event.type,
        subject=subject,
        time=at,
        data=event.to_data(),
        schemaversion=event.schema_version,
        actorid=actor.id,
        actorrole=actor.role,
    )


def backport_opened(
    ticket_id: int, line: str, *, approved_at: datetime, deadline: datetime | None
) -> Envelope:
    event = backports.BackportOpened(
        ticket_id=ticket_id,
        line=line,
        revision=1,
        target_branch=f"release-lts/v{line}",
        patch_branch=f"lts/v{line}/issue-{ticket_id}",
        tests_required=("regression",),
        required_gates=(ci.Gate.UNIT,),
        essential_gates=(ci.Gate.UNIT,),
        security_sign_off_required=False,
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=False,
        severity=None,
        approved_at=approved_at,
        release_deadline=deadline,
    )
    return _wrap(event, backports.backport_stream(ticket_id, line), approved_at)


def candidate_opened(
    candidate_id: str, line: str, version: str, commits: dict[int, str], *, at: datetime
) -> Envelope:
    event = candidates.CandidateOpened(
        candidate_id=candidate_id,
        line=line,
        version=version,
        rc=1,
        tag=f"v{candidate_id}",
        final_tag=f"v{version}",
        previous_version=None,
        bump=candidates.Bump.PATCH,
        backports=tuple(
            candidates.IncludedBackport(
                ticket_id=ticket,
                patch_branch=f"lts/v{line}/issue-{ticket}",
                commit=commit,
                rollout_strategy=RolloutStrategy.STAGED_CANARY,
                emergency=False,
                fast_tracked=False,
            )
            for ticket, commit in commits.items()
        ),
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=False,
        opened_by=RELEASE_MANAGER.id,
        opened_at=at,
    )
    return _wrap(event, candidates.candidate_stream(candidate_id), at, RELEASE_MANAGER)


def release_published(
    version: str, line: str, tickets: tuple[int, ...], *, at: datetime
) -> Envelope:
    event = publication.ReleasePublished(
        candidate_id=f"{version}rc1",
        version=version,
        line=line,
        tag=f"v{version}",
        channels=("pypi",),
        artifacts=(),
        ticket_ids=tickets,
        previous_safe_version=None,
        published_by=RELEASE_MANAGER.id,
        published_at=at,
    )
    return _wrap(event, candidates.candidate_stream(f"{version}rc1"), at, RELEASE_MANAGER)


def release_yanked(version: str, line: str, *, at: datetime) -> Envelope:
    event = publication.ReleaseYanked(
        candidate_id=f"{version}rc1",
        version=version,
        line=line,
        channel="pypi",
        reason="breaks start-up",
        yanked_by=RELEASE_MANAGER.id,
        yanked_at=at,
    )
    return _wrap(event, candidates.candidate_stream(f"{version}rc1"), at, RELEASE_MANAGER)


def rollout_started(
    rollout_id: str, version: str, line: str, *, at: datetime, limit: timedelta
) -> Envelope:
    event = rollout.RolloutStarted(
        rollout_id=rollout_id,
        version=version,
        line=line,
        previous_safe_version=f"{line}.0",
        strategy=RolloutStrategy.STAGED_CANARY,
        phases=(rollout.CanaryPhase(weight=10, duration_seconds=600),),
        consecutive_failure_limit=2,
        inconclusive_limit=3,
        dry_run=False,
        rollback_limit_seconds=int(limit.total_seconds()),
        started_at=at,
    )
    return _wrap(event, rollout.rollout_stream(rollout_id), at)


def rolled_back(
    rollout_id: str,
    version: str,
    line: str,
    *,
    detected_at: datetime,
    took: timedelta,
    deadline: timedelta,
    overdue: bool = False,
) -> list[Envelope]:
    """RollbackStarted, (RollbackOverdue when `overdue`), RolledBack `took` after detection."""
    started = rollout.RollbackStarted(
        rollout_id=rollout_id,
        from_version=version,
        to_version=f"{line}.0",
        line=line,
        reason="error rate",
        trigger=rollout.RollbackTrigger.AUTOMATIC,
        detected_at=detected_at,
        started_at=detected_at,
        deadline=detected_at + deadline,
    )
    done = rollout.RolledBack(
        rollout_id=rollout_id,
        from_version=version,
        to_version=f"{line}.0",
        line=line,
        reason="error rate",
        trigger=rollout.RollbackTrigger.AUTOMATIC,
        detected_at=detected_at,
        completed_at=detected_at + took,
    )
    stream = rollout.rollout_stream(rollout_id)
    out = [_wrap(started, stream, detected_at)]
    if overdue:
        late = rollout.RollbackOverdue(
            rollout_id=rollout_id,
            from_version=version,
            to_version=f"{line}.0",
            detected_at=detected_at,
            deadline=detected_at + deadline,
            overdue_at=detected_at + deadline,
        )
        out.append(_wrap(late, stream, detected_at + deadline))
    return [*out, _wrap(done, stream, detected_at + took)]


def ci_result(
    branch: str,
    commit: str,
    *,
    at: datetime,
    suites: dict[str, tuple[int, int]] | None = None,
    status: ci.CiStatus | None = None,
    job: str = "tests",
) -> Envelope:
    """A CI job's result; `suites` maps suite name -> (passed, failed)."""
    tests = None
    if suites is not None:
        counts = [
            ci.SuiteCounts(name=name, tests=p + f, passed=p, failed=f, skipped=0, errors=0)
            for name, (p, f) in suites.items()
        ]
        tests = ci.TestCounts(
            tests=sum(c.tests for c in counts),
            passed=sum(c.passed for c in counts),
            failed=sum(c.failed for c in counts),
            skipped=0,
            errors=0,
            suites=tuple(counts),
        )
    failed = tests is not None and tests.failed > 0
    event = ci.CiResultRecorded(
        source=ci.CiSource.JUNIT,
        delivery_id=str(uuid4()),
        branch=branch,
        commit=commit,
        job=job,
        gate=ci.Gate.UNIT,
        status=status or (ci.CiStatus.FAILED if failed else ci.CiStatus.PASSED),
        raw_status="completed",
        evidence=ci.CiEvidence(tests=tests),
        reported_at=at,
        recorded_at=at,
    )
    return _wrap(event, ci.ci_stream(branch), at)
