"""Sample audit input for tests and benchmarks: envelopes as the relays of intake and triage put
them on Kafka, for a ticket whose milestones happen at chosen times."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from lts_events.actors import Actor, Role, automation
from lts_events.consumer import RawMessage
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
            checklist=triage.TriageChecklist(
                reproduced=True,
                affected_versions=("1.4.2",),
                public_exploit=False,
                workaround=False,
                api_change=False,
                effort=triage.Effort.SMALL,
                security=False,
            ),
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


@dataclass(frozen=True)
class FastTrackStory:
    """An emergency fast-track approved at `approved_at` and its follow-ups (post-facto audit,
    postmortem), each due `due_after` later; closed after `closed_after` or found overdue at
    `overdue_after` (None: neither)."""

    ticket_id: int
    approved_at: datetime
    due_after: timedelta = timedelta(days=2)
    audit_closed_after: timedelta | None = None
    postmortem_closed_after: timedelta | None = None
    overdue_after: timedelta | None = None

    def envelopes(self) -> list[Envelope]:
        lead = Actor(id="lee", role=Role.ENGINEERING_LEAD)
        approved = triage.EmergencyFastTrackApproved(
            ticket_id=self.ticket_id,
            revision=1,
            approved_by=("lee", "rita"),
            approved_at=self.approved_at,
        )
        out = [self._wrap(approved, self.approved_at, lead)]
        closes = {
            triage.FollowUp.POST_FACTO_AUDIT: self.audit_closed_after,
            triage.FollowUp.POSTMORTEM: self.postmortem_closed_after,
        }
        due = self.approved_at + self.due_after
        for follow_up, closed_after in closes.items():
            opened = triage.FollowUpOpened(
                ticket_id=self.ticket_id,
                follow_up=follow_up,
                revision=1,
                closer_roles=(Role.ENGINEERING_LEAD,),
                due_at=due,
                opened_at=self.approved_at,
            )
            out.append(self._wrap(opened, self.approved_at, automation("triage")))
            if closed_after is not None:
                at = self.approved_at + closed_after
                closed = triage.FollowUpClosed(
                    ticket_id=self.ticket_id,
                    follow_up=follow_up,
                    closed_by="lee",
                    summary="done",
                    within_deadline=at <= due,
                    closed_at=at,
                )
                out.append(self._wrap(closed, at, lead))
            elif self.overdue_after is not None:
                at = self.approved_at + self.overdue_after
                overdue = triage.FollowUpOverdue(
                    ticket_id=self.ticket_id, follow_up=follow_up, due_at=due, detected_at=at
                )
                out.append(self._wrap(overdue, at, automation("triage")))
        return out

    def _wrap(self, event: Event, at: datetime, actor: Actor) -> Envelope:
        return envelope(event, service="triage", ticket_id=self.ticket_id, at=at, actor=actor)


def downloads_message(
    package: str, version: str, count: int, *, at: datetime, offset: int
) -> RawMessage:
    """A structured-mode CloudEvent on `lts.inbound.adoption`, as the index server's log
    shipper sends it: downloads of one version counted over a period ending at `at`. Its
    message id is its offset (structured mode has no `ce_id` header): one offset per message."""
    document = {
        "specversion": "1.0",
        "id": str(uuid4()),
        "source": "https://pypi.internal.example/simple",
        "type": "org.pypi.downloads.counted",
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": {"package": package, "version": version, "count": count, "time": at.isoformat()},
    }
    return RawMessage.of(
        value=json.dumps(document).encode(),
        headers=[("content-type", b"application/cloudevents+json; charset=utf-8")],
        key=package.encode(),
        topic="lts.inbound.adoption",
        partition=0,
        offset=offset,
    )
