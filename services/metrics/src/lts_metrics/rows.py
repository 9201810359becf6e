"""Event-grain projections: an audited event of a registered type becomes rows of flat tables
(one row per event, or per item it lists), whatever came before it. Rows never change once
written, so the incremental projection (insert, ignoring a key already present) and a rebuild
(COPY) give the same tables in any order; what a metric makes of them (the first publication,
distinct rollouts, the open follow-ups) is the SQL of its view (`schema.VIEWS`), one home for
both the analysts and the API.

Each table is declared once here (`RowTable`: columns with their SQL types, key, indexes); the
mappers return rows as tuples in the table's column order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from lts_events.contracts import metrics, triage

from lts_metrics.facts import AuditFact, parse_time
from lts_metrics.versions import line_and_patch

Row = tuple[Any, ...]
Rows = list[tuple[str, Row]]
Mapper = Callable[[AuditFact], Rows]


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
    """Event type -> mapper. Types without one add no rows."""

    def __init__(self) -> None:
        self.mappers: dict[str, Mapper] = {}

    def on(self, type_: str) -> Callable[[Mapper], Mapper]:
        def register(fn: Mapper) -> Mapper:
            self.mappers[type_] = fn
            return fn

        return register

    def rows_of(self, fact: AuditFact) -> Rows:
        mapper = self.mappers.get(fact.type)
        return [] if mapper is None else mapper(fact)


ROWS = RowRegistry()


def _adoption(kind: str, at_field: str) -> Mapper:
    def rows(fact: AuditFact) -> Rows:
        data = fact.data
        version = str(data.get("version", ""))
        line, patch = line_and_patch(version) or (None, None)
        at = parse_time(data.get(at_field)) or fact.occurred_at
        count = int(data.get("count", 1))
        row = (fact.event_id, kind, data.get("package"), version, line, patch, count, at)
        return [(ADOPTION.name, row)]

    return rows


ROWS.on(metrics.DownloadsCounted.type)(_adoption("download", "counted_at"))
ROWS.on(metrics.TelemetryPingReceived.type)(_adoption("ping", "received_at"))


def _follow_up(kind: str, at_field: str, actor_field: str | None = None) -> Mapper:
    def rows(fact: AuditFact) -> Rows:
        data: Mapping[str, Any] = fact.data
        if fact.ticket_id is None:
            return []
        at = parse_time(data.get(at_field)) or fact.occurred_at
        actor = data.get(actor_field) if actor_field else None
        if isinstance(actor, (list, tuple)):
            actor = ", ".join(map(str, actor))
        row = (
            fact.event_id,
            fact.ticket_id,
            data.get("follow_up"),
            kind,
            at,
            parse_time(data.get("due_at")),
            actor if actor is not None else fact.actor_id or None,
        )
        return [(FOLLOW_UPS.name, row)]

    return rows


ROWS.on(triage.EmergencyFastTrackApproved.type)(
    _follow_up("fast_track", "approved_at", "approved_by")
)
ROWS.on(triage.FollowUpOpened.type)(_follow_up("opened", "opened_at"))
ROWS.on(triage.FollowUpClosed.type)(_follow_up("closed", "closed_at", "closed_by"))
ROWS.on(triage.FollowUpOverdue.type)(_follow_up("overdue", "detected_at"))
