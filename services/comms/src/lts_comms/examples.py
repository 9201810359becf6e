"""An example context per document kind, every optional part filled: templates are dry-rendered
against it at load time (so each branch's variables are checked), and `lts comms preview`
without a release shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from lts_events.contracts.comms.documents import DocumentKind
from pydantic import BaseModel

from lts_comms.contexts import (
    AdvisoryContext,
    ChangelogCategory,
    ChangelogEntry,
    FixedIn,
    InternalStatusContext,
    ReleaseNoteContext,
    RollbackFacts,
    Upgrade,
    UpgradeGuidanceContext,
)

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ROLLBACK = RollbackFacts(
    rolled_back_at=AT, reason="error rate above 5% in the canary", rolled_back_to="1.4.2"
)
UPGRADE = Upgrade(
    version="1.4.3",
    pip_install="pip install 'lts-flow==1.4.3'",
    image="registry.example.org/lts-flow:1.4.3",
    chart="oci://registry.example.org/charts/lts-flow --version 1.4.3",
)
ENTRY = ChangelogEntry(ticket_id=42, title="Session fixation in login", cve_ids=("CVE-2026-1234",))


def example_context(kind: DocumentKind) -> BaseModel:
    match kind:
        case DocumentKind.RELEASE_NOTE:
            return ReleaseNoteContext(
                package="lts-flow",
                version="1.4.3",
                lts_line="1.4",
                previous_version="1.4.2",
                summary="lts-flow 1.4.3 is a patch release with 1 security fix(es).",
                affected_versions=("1.4.2",),
                upgrade=UPGRADE,
                changelog_url="https://example.org/changelog#v1.4.3",
                changelog=(ChangelogCategory(name="security", title="Security", entries=(ENTRY,)),),
                published_at=AT,
                rollback=ROLLBACK,
            )
        case DocumentKind.SECURITY_ADVISORY:
            return AdvisoryContext(
                advisory_id="x_LTS-42",
                ticket_id=42,
                title="Session fixation in login",
                severity="high",
                cve_ids=("CVE-2026-1234",),
                package="lts-flow",
                impact="An attacker can fix a victim's session id.",
                mitigation="Upgrade.",
                affected_versions=("1.4.2",),
                fixed_in=(
                    FixedIn(
                        lts_line="1.4",
                        introduced="1.4.0",
                        fixed="1.4.3",
                        published_at=AT,
                        rolled_back=True,
                    ),
                ),
                upgrades=(UPGRADE,),
                advisory_url="https://example.org/security/x_LTS-42",
                contact="security@example.org",
                credit="alice",
                rollback=ROLLBACK,
            )
        case DocumentKind.INTERNAL_STATUS:
            return InternalStatusContext(
                package="lts-flow",
                version="1.4.3",
                lts_line="1.4",
                release_id="r-1",
                event="rolled_back",
                succeeded=False,
                at=AT,
                ticket_count=2,
                security_fix_count=1,
                known_issues=("error rate above 5%",),
                rollback_status="rolled back to 1.4.2",
                rollback=ROLLBACK,
            )
        case DocumentKind.UPGRADE_GUIDANCE:
            return UpgradeGuidanceContext(
                package="lts-flow",
                version="1.4.3",
                previous_version="1.4.2",
                upgrade=UPGRADE,
                notes=("Run the schema migration first.",),
                api_changes=(ENTRY,),
                changelog_url="https://example.org/changelog#v1.4.3",
            )
