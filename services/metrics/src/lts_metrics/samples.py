"""Sample audit input for tests and benchmarks: envelopes as the relays of intake and triage put
them on Kafka, for a ticket whose milestones happen at chosen times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from lts_events.actors import Actor, Role, automation
from lts_events.contracts import intake, triage
from lts_events.contracts.common import Severity, TicketSource, ticket_stream
from lts_events.envelope import Envelope
from lts_events.event import Event

ENGINEER = Actor(id="tess", role=Role.TRIAGE_ENGINEER)


def envelope(
    event: Event,
    *,
    service: str,
    ticket_id: int,
    at: datetime,
    actor: Actor,
    reason: str | None = None,
    version: int | None = None,
) -> Envelope:
    return Envelope(
        id=str(uuid4()),
        source=f"lts-flow/{service}",
        type=event.type,
        subject=ticket_stream(ticket_id),
        time=at,
        data=event.to_data(),
        streamversion=version,
        schemaversion=event.schema_version,
        actorid=actor.id,
        actorrole=actor.role,
        reason=reason,
    )


@dataclass(frozen=True)
class TicketStory:
    """A ticket's milestones, as offsets from `opened_at` (None: not reached)."""

    ticket_id: int
    opened_at: datetime
    severity: Severity = Severity.HIGH
    source: TicketSource = TicketSource.REPORT
    labels: tuple[str, ...] = ()
    triaged_after: timedelta | None = None
    triage_sla: timedelta = timedelta(hours=24)
    planned_after: timedelta | None = None
    approved_after: timedelta | None = None
    plan_sla: timedelta = timedelta(days=3)

    def opened(self) -> Envelope:
        event = intake.TicketOpened(
            ticket_id=self.ticket_id,
            title=f"ticket {self.ticket_id}",
            source=self.source,
            kind=intake.TicketKind.BUG,
            labels=list(self.labels),
            opened_at=self.opened_at,
        )
        return self._wrap(event, "intake", self.opened_at, automation("intake"), "opened")

    def triaged(self) -> Envelope | None:
        if self.triaged_after is None:
            return None
        at = self.opened_at + self.triaged_after
        event = triage.TicketTriaged(
            ticket_id=self.ticket_id,
            severity=self.severity,
            triaged_by=ENGINEER.id,
            automatic=False,
            opened_at=self.opened_at,
            triaged_at=at,
            sla_deadline=self.opened_at + self.triage_sla,
            within_sla=self.triaged_after <= self.triage_sla,
            plan_deadline=at + self.plan_sla,
            reproduced=True,
            affected_versions=("1.4.2",),
            public_exploit=False,
            workaround=False,
            api_change=False,
            effort=triage.Effort.SMALL,
            security=False,
        )
        return self._wrap(event, "triage", at, ENGINEER, f"severity {self.severity}")

    def planned(self) -> Envelope | None:
        if self.planned_after is None or self.triaged_after is None:
            return None
        at = self.opened_at + self.planned_after
        event = triage.BackportPlanned(
            ticket_id=self.ticket_id,
            revision=1,
            target_branches=("release-lts/v1.4",),
            patch_branches=(f"lts/v1.4/issue-{self.ticket_id}",),
            tests_required=("regression",),
            rollout_strategy=triage.RolloutStrategy.IMMEDIATE,
            required_approvers=(Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER),
            effort=triage.Effort.SMALL,
            security_review_required=False,
            milestone="v1.4.3",
            emergency=False,
            plan_deadline=self.opened_at + self.triaged_after + self.plan_sla,
            planned_by=ENGINEER.id,
            planned_at=at,
        )
        return self._wrap(event, "triage", at, ENGINEER, "backport planned")

    def approved(self) -> Envelope | None:
        if self.approved_after is None or self.planned_after is None:
            return None
        at = self.opened_at + self.approved_after
        event = triage.PlanApproved(
            ticket_id=self.ticket_id,
            revision=1,
            approvals=(),
            target_branches=("release-lts/v1.4",),
            emergency=False,
            within_sla=True,
            approved_at=at,
        )
        return self._wrap(event, "triage", at, automation("triage"), "approval matrix satisfied")

    def envelopes(self) -> list[Envelope]:
        steps = (self.opened(), self.triaged(), self.planned(), self.approved())
        return [e for e in steps if e is not None]

    def _wrap(
        self, event: Event, service: str, at: datetime, actor: Actor, reason: str
    ) -> Envelope:
        return envelope(
            event, service=service, ticket_id=self.ticket_id, at=at, actor=actor, reason=reason
        )
