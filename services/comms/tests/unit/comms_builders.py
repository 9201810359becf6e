"""Facts and documents for the comms unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_comms.contexts import Links
from lts_comms.drafting import Drafter
from lts_comms.templates import load_templates
from lts_events.contracts.common import Severity
from lts_events.contracts.comms.facts import ReleaseFactsNoted, ReleaseStatus, TicketFactsNoted

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LINKS = Links(
    package="lts-flow",
    changelog_url="https://example.org/changelog",
    advisory_url="https://example.org/security",
    security_contact="security@example.org",
    osv_prefix="x_LTS",
)


def drafter() -> Drafter:
    return Drafter(load_templates(), LINKS)


def security_ticket(ticket_id: int = 42, **overrides: object) -> TicketFactsNoted:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "source_type": "lts.intake.ticket_opened",
        "title": "Session fixation in login",
        "description": "An attacker who can set a cookie can take over the victim's session.",
        "kind": "security",
        "cve_ids": ("CVE-2026-1234",),
        "reporter": "alice",
        "affected_versions": ("1.4.2",),
        "severity": Severity.HIGH,
        "security": True,
        "noted_at": T0,
    }
    values.update(overrides)
    return TicketFactsNoted(**values)  # type: ignore[arg-type]


def bug_ticket(ticket_id: int = 43, **overrides: object) -> TicketFactsNoted:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "source_type": "lts.intake.ticket_opened",
        "title": "Crash when the config file is empty",
        "kind": "bug",
        "change_kind": "bug_fix",
        "affected_versions": ("1.4.1", "1.4.2"),
        "noted_at": T0,
    }
    values.update(overrides)
    return TicketFactsNoted(**values)  # type: ignore[arg-type]


def previous(version: str) -> str:
    line, patch = version.rsplit(".", 1)
    return f"{line}.{int(patch) - 1}"


def candidate(version: str = "1.4.3", tickets: tuple[int, ...] = (42, 43)) -> ReleaseFactsNoted:
    return ReleaseFactsNoted(
        version=version,
        source_type="lts.release.candidate_opened",
        release_id=f"rc-{version}",
        status=ReleaseStatus.CANDIDATE,
        lts_line=version.rsplit(".", 1)[0],
        previous_version=previous(version),
        ticket_ids=tickets,
        noted_at=T0,
    )


def published(version: str = "1.4.3", at: datetime = T0 + timedelta(hours=1)) -> ReleaseFactsNoted:
    return ReleaseFactsNoted(
        version=version,
        source_type="lts.release.release_published",
        status=ReleaseStatus.PUBLISHED,
        published_at=at,
        noted_at=at,
    )


def rolled_back(
    version: str = "1.4.3", at: datetime = T0 + timedelta(hours=2)
) -> ReleaseFactsNoted:
    return ReleaseFactsNoted(
        version=version,
        source_type="lts.release.rolled_back",
        status=ReleaseStatus.ROLLED_BACK,
        rolled_back_at=at,
        rollback_reason="error rate above 5% in the canary",
        rolled_back_to="1.4.2",
        noted_at=at,
    )
