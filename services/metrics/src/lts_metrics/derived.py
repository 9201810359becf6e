"""`ticket_releases`: one row per ticket and line, derived from the event-grain rows and the
ticket lifecycle by one SQL statement (`refresh_sql`) that both paths run: the incremental one
for the tickets a batch touched, the rebuild once for all on its new tables. A row exists once
a published release of that line shipped the ticket.

- `published_at`, `version`: the first `ReleasePublished` of the line listing the ticket;
- `opened_at`, `severity`: the ticket's lifecycle (first `TicketOpened`, latest triage);
- `approved_at`: the first plan approval of the line's backport (`BackportOpened`);
- `release_deadline`: the latest backport terms' deadline (`BackportOpened` / `Revised`);
- `breached_at`: the first `ReleaseSlaBreached` of that ticket and line."""

from __future__ import annotations

TABLE = "ticket_releases"
KEY = "ticket_id, line"
COLUMNS = (
    "ticket_id",
    "line",
    "severity",
    "opened_at",
    "approved_at",
    "published_at",
    "version",
    "release_deadline",
    "breached_at",
)


def ddl(schema: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {schema}.{TABLE} (
        ticket_id bigint NOT NULL,
        line text NOT NULL,
        severity text,
        opened_at timestamptz,
        approved_at timestamptz,
        published_at timestamptz NOT NULL,
        version text NOT NULL,
        release_deadline timestamptz,
        breached_at timestamptz,
        time_to_release_s double precision
            GENERATED ALWAYS AS (extract(epoch FROM published_at - opened_at)) STORED,
        lead_time_s double precision
            GENERATED ALWAYS AS (extract(epoch FROM published_at - approved_at)) STORED,
        within_sla boolean GENERATED ALWAYS AS (published_at <= release_deadline) STORED,
        PRIMARY KEY ({KEY}))"""


INDEXES = (
    # covers every column time-to-release reads: an index-only scan, no heap visit per row
    # (a new name, so a deployment with the narrower `ticket_releases_line` gets it too)
    (
        "ticket_releases_line_covering",
        TABLE,
        "(line, time_to_release_s) INCLUDE (published_at, severity, within_sla, breached_at)",
    ),
    # the DORA lead time's median the same way: sorted per line, read without the heap
    (
        "ticket_releases_lead_covering",
        TABLE,
        "(line, lead_time_s) INCLUDE (published_at, severity) WHERE lead_time_s IS NOT NULL",
    ),
    # a severity's rows of either the same way, in (line, duration) order: without these, a
    # severity filter read all 114,285 rows from the heap and sorted its quarter of them
    (
        "ticket_releases_severity_covering",
        TABLE,
        "(severity, line, time_to_release_s) INCLUDE (published_at, within_sla, breached_at)"
        " WHERE time_to_release_s IS NOT NULL",
    ),
    (
        "ticket_releases_lead_severity",
        TABLE,
        "(severity, line, lead_time_s) INCLUDE (published_at) WHERE lead_time_s IS NOT NULL",
    ),
    ("ticket_releases_published", TABLE, "(published_at)"),
)
SUPERSEDED_INDEXES = ("ticket_releases_line",)
"""Indexes an older schema created that a covering one replaced: dropped by `ensure_schema`."""


def refresh_sql(schema: str, *, suffix: str = "", only_tickets: bool = True) -> str:
    """Insert or update the rows of the tickets in `$1` (or of every ticket), reading
    the tables `<name><suffix>` (the rebuild's new ones with `_rebuild`)."""
    s, t = schema, suffix
    chosen = "WHERE ticket_id = ANY($1::bigint[])" if only_tickets else ""
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
    # the rebuild fills an empty table without its key yet (built after the rows)
    upsert = f"ON CONFLICT ({KEY}) DO UPDATE SET {updates}" if only_tickets else ""
    return f"""
INSERT INTO {s}.{TABLE}{t} ({", ".join(COLUMNS)})
SELECT f.ticket_id, f.line, l.severity, l.opened_at, b.approved_at, f.published_at, f.version,
       b.release_deadline, b.breached_at
FROM (SELECT DISTINCT ON (ticket_id, line) ticket_id, line, version, published_at
      FROM {s}.release_tickets{t} {chosen}
      ORDER BY ticket_id, line, published_at, version) AS f
LEFT JOIN {s}.ticket_lifecycle{t} AS l USING (ticket_id)
LEFT JOIN LATERAL (
    SELECT min(approved_at) FILTER (WHERE kind <> 'sla_breached') AS approved_at,
           (array_agg(release_deadline ORDER BY at DESC, event_id)
                FILTER (WHERE kind <> 'sla_breached'))[1] AS release_deadline,
           min(at) FILTER (WHERE kind = 'sla_breached') AS breached_at
    FROM {s}.release_backports{t} AS r WHERE r.ticket_id = f.ticket_id AND r.line = f.line
) AS b ON true
{upsert}"""
