"""Triage's events as triage publishes them (CloudEvents binary mode, key = the ticket's
stream), for the release service's tests: a ticket received, triaged, planned and approved."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from lts_events.actors import Role
from lts_events.contracts.common import Severity, ticket_stream
from lts_events.contracts.triage import (
    BackportPlanned,
    Effort,
    PlanApproved,
    RolloutStrategy,
    TicketReceived,
    TicketTriaged,
    TriageChecklist,
)
from lts_events.envelope import Envelope
from lts_events.event import Event
from lts_events.relay import envelope_record

LINES = ("1.4", "1.3")


def approved_plan(
    ticket_id: int,
    at: datetime,
    *,
    severity: Severity = Severity.HIGH,
    security: bool = True,
    emergency: bool = False,
    lines: Sequence[str] = LINES,
) -> list[Event]:
    tests = ["unit", "integration", "backport_regression"]
    if security:
        tests += ["security_regression", "sast", "dependency_scan"]
    return [
        TicketReceived(
            ticket_id=ticket_id,
            title="Session fixation in login",
            kind="security",
            source="report",
            cve_ids=("CVE-2026-12345",),
            affected_versions=("1.4.2", "1.3.7"),
            opened_at=at,
            received_at=at,
        ),
        TicketTriaged(
            ticket_id=ticket_id,
            severity=severity,
            triaged_by="tessa",
            automatic=False,
            opened_at=at,
            triaged_at=at,
            sla_deadline=at + timedelta(hours=24),
            within_sla=True,
            plan_deadline=at + timedelta(days=3),
            checklist=TriageChecklist(
                reproduced=True,
                affected_versions=("1.4.2", "1.3.7"),
                public_exploit=False,
                workaround=False,
                api_change=False,
                effort=Effort.SMALL,
                security=security,
            ),
        ),
        BackportPlanned(
            ticket_id=ticket_id,
            revision=1,
            target_branches=tuple(f"release-lts/v{line}" for line in lines),
            patch_branches=tuple(f"lts/v{line}/issue-{ticket_id}" for line in lines),
            tests_required=tuple(tests),
            rollout_strategy=RolloutStrategy.STAGED_CANARY,
            required_approvers=(Role.CODE_REVIEWER, Role.QA, Role.RELEASE_MANAGER),
            effort=Effort.SMALL,
            security_review_required=security,
            milestone="2026-W10",
            emergency=emergency,
            plan_deadline=at + timedelta(days=3),
            planned_by="lts-triage",
            planned_at=at,
        ),
        PlanApproved(
            ticket_id=ticket_id,
            revision=1,
            approvals=(),
            target_branches=tuple(f"release-lts/v{line}" for line in lines),
            emergency=emergency,
            within_sla=True,
            approved_at=at,
        ),
    ]


async def publish(kafka: str, topic: str, events: Sequence[Event], *, at: datetime) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for version, event in enumerate(events, start=1):
            ticket_id = getattr(event, "ticket_id")  # noqa: B009  (every triage event has it)
            envelope = Envelope(
                id=str(uuid.uuid4()),
                source="lts-flow/triage",
                type=event.type,
                subject=ticket_stream(ticket_id),
                time=at,
                data=event.to_data(),
                actorid="lts-triage",
                actorrole=Role.AUTOMATION,
                streamversion=version,
            )
            _, value, headers = envelope_record(envelope)
            key = ticket_stream(ticket_id).encode()
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
