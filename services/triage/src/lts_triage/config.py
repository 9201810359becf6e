"""The triage service's settings (`LTS_TRIAGE_*`), turned into the pure `Policy`."""

from __future__ import annotations

from datetime import date, timedelta

from lts_events.actors import Role
from lts_events.contracts.triage import Effort
from lts_events.support import (
    SUPPORT_MATRIX_ENV,
    LtsLineSetting,
    default_line_settings,
    lines_of,
)
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_triage.calendar import BusinessCalendar
from lts_triage.policy import (
    ESCALATE_AFTER,
    ESCALATION_CHAIN,
    MAINTAINER_SIGN_OFF_ROLES,
    REVISIT_AFTER,
    AutoTriage,
    Policy,
    Sla,
)


class Settings(BaseSettings):
    """Lists are JSON in the environment. The support matrix is the one intake reads too:
    `LTS_SUPPORT_MATRIX='[{"version": "1.4", "end_of_support": "2028-12-31"}]'`
    (`LTS_TRIAGE_LTS_LINES`, its former name, still works)."""

    model_config = SettingsConfigDict(
        env_prefix="LTS_TRIAGE_",
        frozen=True,
        use_attribute_docstrings=True,
        extra="ignore",
        populate_by_name=True,
    )

    intake_topic: str = "lts.intake.events"
    """Topic of intake's events, which triage consumes."""
    timezone: str = "UTC"
    """IANA time zone of the business calendar (SLA deadlines, revisits)."""
    weekend: list[int] = Field(default_factory=lambda: [5, 6])
    """Days of the week without business hours, JSON, Monday = 0."""
    holidays: list[date] = Field(default_factory=list)
    """Dates without business hours, JSON `["2026-12-25"]`."""
    lts_lines: list[LtsLineSetting] = Field(
        default_factory=default_line_settings,
        validation_alias=AliasChoices(SUPPORT_MATRIX_ENV, "LTS_TRIAGE_LTS_LINES", "lts_lines"),
    )
    """The support matrix shared with intake, JSON `[{"version": "1.4", "end_of_support":
    "2028-12-31"}]`."""
    maintainers: list[str] = Field(
        default_factory=lambda: [
            "alice",
            "dev-maintainer",
            "dev-code_reviewer",
            "dev-release_manager",
        ]
    )
    """Actors who may give the maintainer sign-offs, JSON."""
    # the sign-off roles only listed maintainers may sign, and the four-eyes rule
    maintainer_sign_off_roles: list[Role] = Field(
        default_factory=lambda: sorted(MAINTAINER_SIGN_OFF_ROLES)
    )
    """Sign-off roles only listed maintainers may give."""
    one_role_per_signer: bool = True
    """The four-eyes rule: one person signs a plan in one role only."""
    revisit_after_business_days: int = Field(default=REVISIT_AFTER.business_days, ge=1)
    """A deferred ticket is revisited after this many business days."""
    escalate_after_hours: float = Field(default=ESCALATE_AFTER.total_seconds() / 3600, gt=0)
    """A breach still unanswered this many hours later escalates to the next role of the
    chain."""
    escalation_chain: list[Role] = Field(default_factory=lambda: list(ESCALATION_CHAIN))
    """Roles an SLA breach is escalated to, in order."""
    owner_rotation: list[str] = Field(default_factory=lambda: ["alice", "bob", "carol"])
    """Actors a triaged ticket's owner is picked from in turn, JSON."""
    auto_triage: AutoTriage = AutoTriage.EVIDENCE
    """How triage decides on its own: `evidence` (when a CVSS vector or an alert
    severity backs the proposal), `always` or `never`."""
    default_effort: Effort = Effort.MEDIUM
    """Effort (`S`, `M`, `L`) assumed for a plan when none is given."""
    reminder_before_hours: float = Field(default=24.0, ge=0)
    """Hours before an SLA deadline the owner is reminded."""

    def policy(self) -> Policy:
        return Policy(
            calendar=BusinessCalendar(
                timezone=self.timezone,
                weekend=frozenset(self.weekend),
                holidays=frozenset(self.holidays),
            ),
            lines=lines_of(self.lts_lines),
            maintainers=frozenset(self.maintainers),
            owner_rotation=tuple(self.owner_rotation),
            auto_triage=self.auto_triage,
            default_effort=self.default_effort,
            reminder_before=timedelta(hours=self.reminder_before_hours),
            maintainer_sign_off_roles=frozenset(self.maintainer_sign_off_roles),
            one_role_per_signer=self.one_role_per_signer,
            revisit_after=Sla(business_days=self.revisit_after_business_days),
            escalate_after=timedelta(hours=self.escalate_after_hours),
            escalation_chain=tuple(self.escalation_chain),
        )
