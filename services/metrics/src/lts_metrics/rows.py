"""Event-grain projections: an audited event of a registered type becomes rows of flat tables
(one row per event, or per item it lists), whatever came before it. Rows never change once
written, so the incremental projection (insert, ignoring a key already present) and a rebuild
(COPY) give the same tables in any order; what a metric makes of them (the first publication,
distinct rollouts, the open follow-ups) is the SQL of its view (`schema.VIEWS`), one home for
both the analysts and the API.

Each table is declared once here (`RowTable`: columns with their SQL types, key, indexes); the
mappers, registered by event class, take the typed event (`AuditFact.event`) and its fact and
return rows as tuples in the table's column order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from lts_events.contracts import metrics, triage
from lts_events.event import Event

from lts_metrics.facts import AuditFact
from lts_metrics.versions import line_and_patch

Row = tuple[Any, ...]
Rows = list[tuple[str, Row]]
E = TypeVar("E", bound=Event)
Mapper = Callable[[E, AuditFact], Rows]


class RowTable(NamedTuple):
    name: str
    columns: tuple[tuple[str, str], ...]
    """(name, SQL type) in row order."""
    key: tuple[str, ...]
    indexes: tuple[tuple[str, str], ...] = ()
    """(index name, definition after `ON table`)."""

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def ddl(self, schema: str) -> str:
        columns = ",\n".join(f"{name} {sql_type}" for name, sql_type in self.columns)
        key = ", ".join(self.key)
        return f"CREATE TABLE IF NOT EXISTS {schema}.{self.name} ({columns}, PRIMARY KEY ({key}))"


ADOPTION = RowTable(
    "adoption_counts",
    (
        ("event_id", "uuid NOT NULL"),
        ("kind", "text NOT NULL"),  # download | ping
        ("package", "text NOT NULL"),
        ("version", "text NOT NULL"),
        ("line", "text"),  # X.Y; NULL when the version has no X.Y.Z
        ("patch", "integer"),
        ("count", "bigint NOT NULL"),
        ("counted_at", "timestamptz NOT NULL"),
    ),
    ("event_id",),
    (("adoption_counts_line", "(line, counted_at)"),),
)
FOLLOW_UPS = RowTable(
    "follow_up_events",
    (
        ("event_id", "uuid NOT NULL"),
        ("ticket_id", "bigint NOT NULL"),
        ("follow_up", "text"),  # post_facto_audit | postmortem; NULL for the fast-track itself
        ("kind", "text NOT NULL"),  # fast_track | opened | closed | overdue
        ("at", "timestamptz NOT NULL"),
        ("due_at", "timestamptz"),
        ("actor", "text"),
    ),
    ("event_id",),
    (
        ("follow_up_events_ticket", "(ticket_id, follow_up)"),
        # a follow-up's fast-track time (`schema.FOLLOW_UP_STATE`): one index-only probe each
        ("follow_up_events_fast_track", "(ticket_id, at) WHERE kind = 'fast_track'"),
    ),
)

TABLES: tuple[RowTable, ...] = (ADOPTION, FOLLOW_UPS)


class RowRegistry:
    """Event class -> mapper. Classes without one add no rows."""

    def __init__(self) -> None:
        self.mappers: dict[type[Event], Mapper[Any]] = {}

    def on(self, cls: type[E]) -> Callable[[Mapper[E]], Mapper[E]]:
        def register(fn: Mapper[E]) -> Mapper[E]:
            self.mappers[cls] = fn
            return fn

        return register

    def rows_of(self, fact: AuditFact) -> Rows:
        event = fact.event
        mapper = None if event is None else self.mappers.get(type(event))
        return [] if mapper is None else mapper(event, fact)


ROWS = RowRegistry()


def _adoption(
    fact: AuditFact, kind: str, package: str, version: str, count: int, at: datetime
) -> Rows:
    line, patch = line_and_patch(version) or (None, None)
    return [(ADOPTION.name, (fact.event_id, kind, package, version, line, patch, count, at))]


@ROWS.on(metrics.DownloadsCounted)
def _downloads(e: metrics.DownloadsCounted, fact: AuditFact) -> Rows:
    return _adoption(fact, "download", e.package, e.version, e.count, e.counted_at)


@ROWS.on(metrics.TelemetryPingReceived)
def _ping(e: metrics.TelemetryPingReceived, fact: AuditFact) -> Rows:
    return _adoption(fact, "ping", e.package, e.version, 1, e.received_at)


def _follow_up(
    fact: AuditFact,
    ticket_id: int,
    follow_up: triage.FollowUp | None,
    kind: str,
    at: datetime,
    *,
    due_at: datetime | None = None,
    actor: str | None = None,
) -> Rows:
    """A follow-up event's row; without an actor of its own, the event's actor."""
    name = None if follow_up is None else follow_up.value
    by = actor if actor is not None else fact.actor_id or None
    return [(FOLLOW_UPS.name, (fact.event_id, ticket_id, name, kind, at, due_at, by))]


@ROWS.on(triage.EmergencyFastTrackApproved)
def _fast_track(e: triage.EmergencyFastTrackApproved, fact: AuditFact) -> Rows:
    approvers = ", ".join(e.approved_by)
    return _follow_up(fact, e.ticket_id, None, "fast_track", e.approved_at, actor=approvers)


@ROWS.on(triage.FollowUpOpened)
def _follow_up_opened(e: triage.FollowUpOpened, fact: AuditFact) -> Rows:
    return _follow_up(fact, e.ticket_id, e.follow_up, "opened", e.opened_at, due_at=e.due_at)


@ROWS.on(triage.FollowUpClosed)
def _follow_up_closed(e: triage.FollowUpClosed, fact: AuditFact) -> Rows:
    return _follow_up(fact, e.ticket_id, e.follow_up, "closed", e.closed_at, actor=e.closed_by)


@ROWS.on(triage.FollowUpOverdue)
def _follow_up_overdue(e: triage.FollowUpOverdue, fact: AuditFact) -> Rows:
    return _follow_up(fact, e.ticket_id, e.follow_up, "overdue", e.detected_at, due_at=e.due_at)
