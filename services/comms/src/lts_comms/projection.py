"""Comms' own view of tickets and releases, folded from the facts it noted (pure). Never read
from another service: every value here arrived as a `TicketFactsNoted` / `ReleaseFactsNoted`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from lts_events.contracts.common import Severity
from lts_events.contracts.comms.facts import ReleaseFactsNoted, ReleaseStatus, TicketFactsNoted


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket_id: int
    title: str = ""
    description: str = ""
    kind: str | None = None
    cve_ids: tuple[str, ...] = ()
    reporter: str | None = None
    contact: str | None = None
    affected_versions: tuple[str, ...] = ()
    affected_lts_lines: tuple[str, ...] = ()
    severity: Severity | None = None
    security: bool = False
    change_kind: str | None = None
    workaround: bool | None = None
    api_change: bool = False
    target_branches: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()  # versions of the releases carrying it

    @property
    def is_security(self) -> bool:
        return self.security or self.kind == "security" or bool(self.cve_ids)


@dataclass(frozen=True, slots=True)
class Rollback:
    rolled_back_at: datetime
    reason: str
    rolled_back_to: str | None


@dataclass(frozen=True, slots=True)
class ReleaseView:
    version: str
    release_id: str | None = None
    status: ReleaseStatus | None = None
    package: str | None = None
    lts_line: str | None = None
    previous_version: str | None = None
    ticket_ids: tuple[int, ...] = ()
    image: str | None = None
    chart: str | None = None
    changelog_url: str | None = None
    upgrade_notes: tuple[str, ...] = ()
    known_issues: tuple[str, ...] = ()
    published_at: datetime | None = None
    rollbacks: tuple[Rollback, ...] = field(default=())

    @property
    def published(self) -> bool:
        """Published and not rolled back since."""
        return self.status is ReleaseStatus.PUBLISHED


def _merged(view: Any, noted: Any, skip: frozenset[str]) -> Any:
    """`view` with every field that `noted` carries (not None) taken from it."""
    names = {f.name for f in fields(view)} - skip
    changes = {n: getattr(noted, n) for n in names if getattr(noted, n, None) is not None}
    return replace(view, **changes)


def ticket_view(ticket_id: int, noted: Iterable[TicketFactsNoted]) -> TicketView:
    view = TicketView(ticket_id)
    for facts in noted:
        view = _merged(view, facts, frozenset({"ticket_id", "releases"}))
        if facts.releases:
            view = replace(view, releases=tuple(sorted({*view.releases, *facts.releases})))
    return view


def release_view(version: str, noted: Iterable[ReleaseFactsNoted]) -> ReleaseView:
    view = ReleaseView(version)
    for facts in noted:
        skip = {"version", "rollbacks"}
        if facts.status is ReleaseStatus.CANDIDATE and view.status is not None:
            skip.add("status")  # a late candidate event never undoes a publication
        view = _merged(view, facts, frozenset(skip))
        if facts.rolled_back_at is not None:
            rollback = Rollback(
                facts.rolled_back_at, facts.rollback_reason or "", facts.rolled_back_to
            )
            view = replace(view, rollbacks=(*view.rollbacks, rollback))
    return view
