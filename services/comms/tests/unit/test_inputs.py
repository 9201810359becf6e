"""What comms takes from triage's `TicketTriaged`: the checklist's answers as ticket facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_comms.inputs import facts_of
from lts_events.contracts.common import Severity
from lts_events.contracts.comms.facts import TicketFactsNoted
from lts_events.contracts.triage import ChangeKind, Effort, TicketTriaged, TriageChecklist

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_triaged_ticket_brings_its_checklist_answers() -> None:
    triaged = TicketTriaged(
        ticket_id=7,
        severity=Severity.HIGH,
        triaged_by="tess",
        automatic=False,
        opened_at=T0,
        triaged_at=T0,
        sla_deadline=T0 + timedelta(hours=24),
        within_sla=True,
        plan_deadline=T0 + timedelta(days=3),
        checklist=TriageChecklist(
            reproduced=True,
            affected_versions=("1.4.2",),
            public_exploit=False,
            workaround=True,
            api_change=True,
            effort=Effort.SMALL,
            security=True,
            change_kind=ChangeKind.FEATURE,
        ),
    )

    facts = facts_of(triaged, now=T0)

    assert isinstance(facts, TicketFactsNoted)
    assert (facts.severity, facts.security, facts.change_kind) == (Severity.HIGH, True, "feature")
    assert (facts.workaround, facts.api_change, facts.affected_versions) == (True, True, ("1.4.2",))
