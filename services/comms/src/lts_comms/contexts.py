"""What each template may use: one model per document kind, whose fields are the template's
declared variables (templates are checked against them at load time, `templates.py`), and the
pure functions that fill them from comms' view of tickets and releases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lts_events.contracts.comms.documents import DocumentKind
from pydantic import BaseModel, ConfigDict

from lts_comms.projection import ReleaseView, TicketView


class _Context(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChangelogEntry(_Context):
    ticket_id: int
    title: str
    cve_ids: tuple[str, ...] = ()


class ChangelogCategory(_Context):
    """A towncrier-style section of the changelog."""

    name: str
    title: str
    entries: tuple[ChangelogEntry, ...]


class RollbackFacts(_Context):
    rolled_back_at: datetime
    reason: str
    rolled_back_to: str | None


class Upgrade(_Context):
    """How to upgrade to one release: the exact pip line, and the image or chart if any."""

    version: str
    pip_install: str
    image: str | None = None
    chart: str | None = None


class ReleaseNoteContext(_Context):
    package: str
    version: str
    lts_line: str | None
    previous_version: str | None
    summary: str
    affected_versions: tuple[str, ...]
    upgrade: Upgrade
    changelog_url: str
    changelog: tuple[ChangelogCategory, ...]
    published_at: datetime | None
    rollback: RollbackFacts | None


class FixedIn(_Context):
    """One LTS line's fix: OSV range `introduced` .. `fixed`."""

    lts_line: str
    introduced: str
    fixed: str
    published_at: datetime | None
    rolled_back: bool


class AdvisoryContext(_Context):
    advisory_id: str
    ticket_id: int
    title: str
    severity: str
    cve_ids: tuple[str, ...]
    package: str
    impact: str
    mitigation: str
    affected_versions: tuple[str, ...]
    fixed_in: tuple[FixedIn, ...]
    upgrades: tuple[Upgrade, ...]
    advisory_url: str
    contact: str
    credit: str | None
    rollback: RollbackFacts | None


class InternalStatusContext(_Context):
    """Never carries an embargoed detail: security fixes are counted, not described."""

    package: str
    version: str
    lts_line: str | None
    release_id: str | None
    event: str  # "published" or "rolled_back"
    succeeded: bool
    at: datetime
    ticket_count: int
    security_fix_count: int
    known_issues: tuple[str, ...]
    rollback_status: str
    rollback: RollbackFacts | None


class UpgradeGuidanceContext(_Context):
    package: str
    version: str
    previous_version: str | None
    upgrade: Upgrade
    notes: tuple[str, ...]
    api_changes: tuple[ChangelogEntry, ...]
    changelog_url: str


CONTEXTS: dict[DocumentKind, type[_Context]] = {
    DocumentKind.RELEASE_NOTE: ReleaseNoteContext,
    DocumentKind.SECURITY_ADVISORY: AdvisoryContext,
    DocumentKind.INTERNAL_STATUS: InternalStatusContext,
    DocumentKind.UPGRADE_GUIDANCE: UpgradeGuidanceContext,
}


@dataclass(frozen=True, slots=True)
class Links:
    """Configured names and addresses the documents point to."""

    package: str
    changelog_url: str
    advisory_url: str
    security_contact: str
    osv_prefix: str


# -- builders ------------------------------------------------------------------------------------

_CATEGORIES = (
    ("security", "Security"),
    ("bugfix", "Bug Fixes"),
    ("feature", "Features"),
    ("misc", "Miscellaneous"),
)


def category_of(ticket: TicketView) -> str:
    if ticket.is_security:
        return "security"
    if ticket.change_kind == "feature" or ticket.kind == "feature":
        return "feature"
    if ticket.change_kind == "bug_fix" or ticket.kind in {"bug", "alert"}:
        return "bugfix"
    return "misc"


def entry_of(ticket: TicketView) -> ChangelogEntry:
    return ChangelogEntry(
        ticket_id=ticket.ticket_id,
        title=ticket.title or f"ticket {ticket.ticket_id}",
        cve_ids=ticket.cve_ids,
    )


def changelog(tickets: Sequence[TicketView], links: Links) -> tuple[ChangelogCategory, ...]:
    """The release's tickets by category. A security fix is named only by its advisory: the
    note may go out before the advisory's embargo lifts, so it carries no title or CVE."""
    ordered = sorted(tickets, key=lambda t: t.ticket_id)

    def entry(ticket: TicketView) -> ChangelogEntry:
        if not ticket.is_security:
            return entry_of(ticket)
        advisory = advisory_id(ticket.ticket_id, links)
        return ChangelogEntry(ticket_id=ticket.ticket_id, title=f"Security fix, see {advisory}")

    return tuple(
        ChangelogCategory(
            name=name,
            title=title,
            entries=tuple(entry(t) for t in ordered if category_of(t) == name),
        )
        for name, title in _CATEGORIES
        if any(category_of(t) == name for t in ordered)
    )


def upgrade_of(release: ReleaseView, links: Links) -> Upgrade:
    package = release.package or links.package
    return Upgrade(
        version=release.version,
        pip_install=f"pip install '{package}=={release.version}'",
        image=release.image,
        chart=release.chart,
    )


def rollback_of(release: ReleaseView) -> RollbackFacts | None:
    if not release.rollbacks:
        return None
    last = release.rollbacks[-1]
    return RollbackFacts(
        rolled_back_at=last.rolled_back_at, reason=last.reason, rolled_back_to=last.rolled_back_to
    )


def changelog_url(release: ReleaseView, links: Links) -> str:
    return release.changelog_url or f"{links.changelog_url}#v{release.version}"


def summary(release: ReleaseView, tickets: Sequence[TicketView], package: str) -> str:
    counts = {name: 0 for name, _ in _CATEGORIES}
    for ticket in tickets:
        counts[category_of(ticket)] += 1
    parts = [
        f"{n} {label}"
        for label, n in (
            ("security fix(es)", counts["security"]),
            ("bug fix(es)", counts["bugfix"]),
            ("other change(s)", counts["feature"] + counts["misc"]),
        )
        if n
    ]
    line = f" for the {release.lts_line} LTS line" if release.lts_line else ""
    what = ", ".join(parts) if parts else "maintenance changes"
    return f"{package} {release.version} is a patch release{line} with {what}."


def release_note_context(
    release: ReleaseView, tickets: Sequence[TicketView], links: Links
) -> ReleaseNoteContext:
    package = release.package or links.package
    affected = sorted({v for t in tickets for v in t.affected_versions})
    if release.previous_version and release.previous_version not in affected:
        affected.insert(0, release.previous_version)
    return ReleaseNoteContext(
        package=package,
        version=release.version,
        lts_line=release.lts_line,
        previous_version=release.previous_version,
        summary=summary(release, tickets, package),
        affected_versions=tuple(affected),
        upgrade=upgrade_of(release, links),
        changelog_url=changelog_url(release, links),
        changelog=changelog(tickets, links),
        published_at=release.published_at,
        rollback=rollback_of(release),
    )


def internal_status_context(
    release: ReleaseView, tickets: Sequence[TicketView], links: Links, *, rollback: int | None
) -> InternalStatusContext:
    """`rollback` None: the status of the publication; n: of the release's n-th rollback."""
    facts = release.rollbacks[rollback - 1] if rollback else None
    at = facts.rolled_back_at if facts else release.published_at
    assert at is not None, "an internal status is drafted for a publication or a rollback"
    if facts:
        rollback_status = f"rolled back to {facts.rolled_back_to or 'the previous version'}"
    elif release.rollbacks:
        rollback_status = "rolled back later"
    else:
        rollback_status = "not needed"
    return InternalStatusContext(
        package=release.package or links.package,
        version=release.version,
        lts_line=release.lts_line,
        release_id=release.release_id,
        event="rolled_back" if facts else "published",
        succeeded=facts is None,
        at=at,
        ticket_count=len(release.ticket_ids),
        security_fix_count=sum(1 for t in tickets if t.is_security),
        known_issues=release.known_issues + ((facts.reason,) if facts else ()),
        rollback_status=rollback_status,
        rollback=(
            RollbackFacts(
                rolled_back_at=facts.rolled_back_at,
                reason=facts.reason,
                rolled_back_to=facts.rolled_back_to,
            )
            if facts
            else None
        ),
    )


def needs_upgrade_guidance(release: ReleaseView, tickets: Sequence[TicketView]) -> bool:
    return bool(release.upgrade_notes) or any(t.api_change for t in tickets)


def upgrade_guidance_context(
    release: ReleaseView, tickets: Sequence[TicketView], links: Links
) -> UpgradeGuidanceContext:
    return UpgradeGuidanceContext(
        package=release.package or links.package,
        version=release.version,
        previous_version=release.previous_version,
        upgrade=upgrade_of(release, links),
        notes=release.upgrade_notes,
        api_changes=tuple(entry_of(t) for t in tickets if t.api_change),
        changelog_url=changelog_url(release, links),
    )


def introduced_for(version: str) -> str:
    """The first version of the fixed version's line (`1.4.3` -> `1.4.0`): the LTS line is
    taken as affected from its start, as far as comms knows."""
    parts = version.split(".")
    return ".".join([*parts[:2], "0"]) if len(parts) >= 2 else "0"


def advisory_id(ticket_id: int, links: Links) -> str:
    return f"{links.osv_prefix}-{ticket_id}"


def advisory_context(
    ticket: TicketView, releases: Sequence[ReleaseView], links: Links
) -> AdvisoryContext:
    """`releases`: the releases carrying the ticket's fix, any status."""
    fixing = sorted((r for r in releases if r.status is not None), key=lambda r: r.version)
    fixed_in = tuple(
        FixedIn(
            lts_line=r.lts_line or ".".join(r.version.split(".")[:2]),
            introduced=introduced_for(r.version),
            fixed=r.version,
            published_at=r.published_at,
            rolled_back=bool(r.rollbacks) and not r.published,
        )
        for r in fixing
    )
    rolled_back = [r for r in fixing if r.rollbacks]
    package = next((r.package for r in fixing if r.package), links.package)
    workaround = "A workaround exists; see the ticket." if ticket.workaround else ""
    mitigation = "Upgrade to a fixed version." + (f" {workaround}" if workaround else "")
    return AdvisoryContext(
        advisory_id=advisory_id(ticket.ticket_id, links),
        ticket_id=ticket.ticket_id,
        title=ticket.title or f"Security fix for ticket {ticket.ticket_id}",
        severity=(ticket.severity.value if ticket.severity else "unrated"),
        cve_ids=ticket.cve_ids,
        package=package,
        impact=ticket.description or ticket.title,
        mitigation=mitigation,
        affected_versions=ticket.affected_versions,
        fixed_in=fixed_in,
        upgrades=tuple(upgrade_of(r, links) for r in fixing if r.published),
        advisory_url=f"{links.advisory_url}/{advisory_id(ticket.ticket_id, links)}",
        contact=links.security_contact,
        credit=ticket.reporter,
        rollback=rollback_of(rolled_back[-1]) if rolled_back else None,
    )


def fix_published_at(releases: Sequence[ReleaseView]) -> datetime | None:
    """When the fix went out: the earliest publication among releases still published."""
    times = [r.published_at for r in releases if r.published and r.published_at is not None]
    return min(times) if times else None


def advisory_epoch() -> datetime:
    """`modified` of an advisory no release carries yet (a constant: drafting is pure)."""
    return datetime(1970, 1, 1, tzinfo=UTC)
