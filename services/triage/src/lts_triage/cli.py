"""`lts triage ...`: inspect the triage policy without running the service."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from lts_events.contracts.common import Severity
from lts_events.contracts.triage import FollowUp

from lts_triage.config import Settings
from lts_triage.policy import RISK_FORMULA, required_approvers

app = typer.Typer(help="Triage policy: SLA deadlines, support matrix, approval matrix.")


@app.command()
def policy() -> None:
    """Print the effective policy (support matrix, SLA deadlines from now, approval matrix)."""
    settings = Settings()
    rules = settings.policy()
    now = datetime.now(UTC)
    document = {
        "supported_lines": [line.branch for line in rules.supported_lines(now.date())],
        "triage_deadlines_from_now": {
            s.value: rules.triage_deadline(s, opened_at=now).isoformat() for s in Severity
        },
        "plan_deadline_from_now": rules.plan_deadline(triaged_at=now).isoformat(),
        "approvers": {
            "normal": required_approvers(
                security=False, severity=Severity.HIGH, regression=False, emergency=False
            ),
            "security": required_approvers(
                security=True, severity=Severity.HIGH, regression=False, emergency=False
            ),
            "critical_regression": required_approvers(
                security=False, severity=Severity.CRITICAL, regression=True, emergency=False
            ),
            "emergency": required_approvers(
                security=False, severity=Severity.CRITICAL, regression=False, emergency=True
            ),
        },
        "maintainers": sorted(rules.maintainers),
        "maintainer_sign_off_roles": sorted(rules.maintainer_sign_off_roles),
        "one_role_per_signer": rules.one_role_per_signer,
        "breach_escalation": {
            "after_hours": rules.escalate_after.total_seconds() / 3600,
            "chain": list(rules.escalation_chain),
        },
        "revisit_deferred_from_now": rules.revisit_at(deferred_at=now).isoformat(),
        "follow_ups_due_from_now": {
            item.value: rules.follow_up_due(item, opened_at=now).isoformat() for item in FollowUp
        },
        "owner_rotation": list(rules.owner_rotation),
        "risk_formula": RISK_FORMULA,
    }
    typer.echo(json.dumps(document, indent=2, default=str))
