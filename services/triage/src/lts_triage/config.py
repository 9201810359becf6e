"""The triage service's settings (`LTS_TRIAGE_*`), turned into the pure `Policy`."""

from __future__ import annotations

from datetime import date, timedelta

from lts_events.contracts.triage import Effort
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_triage.calendar import BusinessCalendar
from lts_triage.policy import AutoTriage, LtsLine, Policy


class LtsLineSetting(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(pattern=r"^\d+\.\d+$")
    end_of_support: date


DEFAULT_LINES = [
    LtsLineSetting(version="1.2", end_of_support=date(2026, 6, 30)),
    LtsLineSetting(version="1.3", end_of_support=date(2027, 6, 30)),
    LtsLineSetting(version="1.4", end_of_support=date(2028, 12, 31)),
]


class Settings(BaseSettings):
    """Lists and the LTS lines are JSON in the environment, e.g.
    `LTS_TRIAGE_LTS_LINES='[{"version": "1.4", "end_of_support": "2028-12-31"}]'`."""

    model_config = SettingsConfigDict(env_prefix="LTS_TRIAGE_", frozen=True, extra="ignore")

    intake_topic: str = "lts.intake.events"
    timezone: str = "UTC"
    weekend: list[int] = Field(default_factory=lambda: [5, 6])
    holidays: list[date] = Field(default_factory=list)
    lts_lines: list[LtsLineSetting] = Field(default_factory=lambda: list(DEFAULT_LINES))
    maintainers: list[str] = Field(
        default_factory=lambda: ["alice", "dev-maintainer", "dev-code_reviewer"]
    )
    owner_rotation: list[str] = Field(default_factory=lambda: ["alice", "bob", "carol"])
    auto_triage: AutoTriage = AutoTriage.EVIDENCE
    default_effort: Effort = Effort.MEDIUM
    reminder_before_hours: float = Field(default=24.0, ge=0)

    def policy(self) -> Policy:
        return Policy(
            calendar=BusinessCalendar(
                timezone=self.timezone,
                weekend=frozenset(self.weekend),
                holidays=frozenset(self.holidays),
            ),
            lines=tuple(LtsLine(line.version, line.end_of_support) for line in self.lts_lines),
            maintainers=frozenset(self.maintainers),
            owner_rotation=tuple(self.owner_rotation),
            auto_triage=self.auto_triage,
            default_effort=self.default_effort,
            reminder_before=timedelta(hours=self.reminder_before_hours),
        )
