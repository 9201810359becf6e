"""The metrics read models, the analysts' views and the read-only analyst role.

Everything here is created at start (`ensure_schema`), idempotently, in the service's PostgreSQL
schema next to its event store. The projection tables are rebuildable: `lts metrics rebuild`
empties them and replays the store (`ProjectionEngine.rebuild`). The views are the analysts'
interface; the role `lts_analyst` may read them and nothing else.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from lts_metrics import derived, release_sql
from lts_metrics.row_tables import ALL as ROW_TABLES
from lts_metrics.versions import patch_sql

CLOSED_STATES = ("deferred", "rejected", "withdrawn")
"""States in which a ticket owes no more triage or plan: an SLA not met by then is not overdue."""


def sla_outcome(met_at: str, deadline: str, breached_at: str, at: str) -> str:
    """The SQL of one SLA's outcome for a `ticket_lifecycle` row at `at` (one home for the
    view and the query): met, missed, closed, open_overdue or pending."""
    closed = ", ".join(f"'{state}'" for state in CLOSED_STATES)
    return f"""CASE WHEN {met_at} IS NOT NULL AND {deadline} IS NULL THEN 'met'
                    WHEN {met_at} <= {deadline} THEN 'met'
                    WHEN {met_at} IS NOT NULL OR {breached_at} IS NOT NULL THEN 'missed'
                    WHEN state IN ({closed}) THEN 'closed'
                    WHEN {deadline} < {at} THEN 'open_overdue'
                    ELSE 'pending' END"""


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

PROJECTION_TABLES = (
    "ticket_lifecycle",
    "ticket_timeline",
    *(t.name for t in ROW_TABLES),
    derived.TABLE,  # last: the rebuild derives it from the others
)
"""Tables the projections own: emptied and refilled by a rebuild."""


def follow_up_status(closed_at: str, overdue_at: str, due_at: str, at: str) -> str:
    """The SQL of a follow-up's status at `at` (one home for the view and the query): closed
    once closed by then (late or not), else overdue when found overdue or due by then, else
    open."""
    return f"""CASE WHEN {closed_at} <= {at} THEN 'closed'
                    WHEN {overdue_at} <= {at} OR {due_at} < {at} THEN 'overdue'
                    ELSE 'open' END"""


def follow_up_closed_late(closed_at: str, due_at: str, at: str) -> str:
    """The SQL of whether a follow-up was closed, by `at`, after its due time."""
    return f"coalesce({closed_at} <= {at} AND {closed_at} > {due_at}, false)"


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def _tables(s: str) -> list[str]:
    return (
        [
            f"""CREATE TABLE IF NOT EXISTS {s}.audit_envelopes (
            event_id uuid PRIMARY KEY,
            ce_id text NOT NULL,
            ce_source text NOT NULL,
            service text NOT NULL,
            subject text,
            occurred_at timestamptz NOT NULL,
            stream_version bigint,
            topic text NOT NULL,
            kafka_partition integer,
            kafka_offset bigint,
            received_at timestamptz NOT NULL DEFAULT now())""",
            f"""CREATE TABLE IF NOT EXISTS {s}.ticket_lifecycle (
            ticket_id bigint PRIMARY KEY,
            state text NOT NULL,
            title text,
            source text,
            kind text,
            severity text,
            labels text[] NOT NULL DEFAULT '{{}}',
            opened_at timestamptz,
            triaged_at timestamptz,
            triaged_by text,
            triaged_automatically boolean,
            triage_deadline timestamptz,
            triage_breached_at timestamptz,
            decision text,
            targets text[] NOT NULL DEFAULT '{{}}',
            owner text,
            planned_at timestamptz,
            plan_deadline timestamptz,
            approved_at timestamptz,
            plan_breached_at timestamptz,
            security_review boolean,
            approvals integer NOT NULL DEFAULT 0,
            events integer NOT NULL DEFAULT 0,
            updated_at timestamptz,
            time_to_triage_s double precision
                GENERATED ALWAYS AS (extract(epoch FROM triaged_at - opened_at)) STORED,
            time_to_plan_s double precision
                GENERATED ALWAYS AS (extract(epoch FROM planned_at - triaged_at)) STORED,
            time_to_approval_s double precision
                GENERATED ALWAYS AS (extract(epoch FROM approved_at - planned_at)) STORED,
            triage_within_sla boolean
                GENERATED ALWAYS AS (triaged_at <= triage_deadline) STORED,
            plan_within_sla boolean
                GENERATED ALWAYS AS (approved_at <= plan_deadline) STORED)""",
            f"""CREATE TABLE IF NOT EXISTS {s}.ticket_timeline (
            event_id uuid NOT NULL,
            ticket_id bigint NOT NULL,
            sequence bigint NOT NULL,
            occurred_at timestamptz NOT NULL,
            event_type text NOT NULL,
            source_service text NOT NULL,
            actor_id text NOT NULL,
            actor_role text NOT NULL,
            reason text,
            summary text NOT NULL,
            CONSTRAINT ticket_timeline_pkey PRIMARY KEY (event_id, ticket_id))""",
            # one row per event and ticket it concerns: a table keyed by the event alone (before
            # releases named several tickets) takes the new key once
            f"""DO $$ BEGIN
                IF (SELECT array_length(conkey, 1) FROM pg_constraint
                    WHERE conrelid = '{s}.ticket_timeline'::regclass AND contype = 'p') = 1 THEN
                    ALTER TABLE {s}.ticket_timeline DROP CONSTRAINT ticket_timeline_pkey,
                        ADD CONSTRAINT ticket_timeline_pkey PRIMARY KEY (event_id, ticket_id);
                END IF;
            END $$""",
        ]
        + [table.ddl(s) for table in ROW_TABLES]
        + [derived.ddl(s)]
        + _added_columns(s)
        + [
            f"CREATE INDEX IF NOT EXISTS {name} ON {s}.{table} {definition}"
            for name, table, definition in INDEXES
        ]
        + [f"DROP INDEX IF EXISTS {s}.{name}" for name in derived.SUPERSEDED_INDEXES]
    )


def _added_columns(s: str) -> list[str]:
    """Columns added to a projection table after deployments created it, filled in place from
    the columns already there (so no rebuild is needed)."""
    return [
        f"ALTER TABLE {s}.release_publications ADD COLUMN IF NOT EXISTS patch integer",
        f"""UPDATE {s}.release_publications SET patch = {patch_sql("version")}
            WHERE patch IS NULL AND {patch_sql("version")} IS NOT NULL""",
    ]


INDEXES: tuple[tuple[str, str, str], ...] = (
    ("ticket_lifecycle_opened", "ticket_lifecycle", "(opened_at)"),
    ("ticket_lifecycle_state", "ticket_lifecycle", "(state)"),
    (
        "ticket_lifecycle_triage",
        "ticket_lifecycle",
        "(opened_at) INCLUDE (time_to_triage_s, triage_within_sla, severity, source)"
        " WHERE time_to_triage_s IS NOT NULL",
    ),
    ("ticket_lifecycle_labels", "ticket_lifecycle", "USING gin (labels)"),
    # time-to-triage in order (percentile_cont's sort finds its input already sorted), per
    # filter: all tickets, a severity, a source
    (
        "ticket_lifecycle_triage_sorted",
        "ticket_lifecycle",
        "(time_to_triage_s) INCLUDE (triage_within_sla, opened_at, severity, source)"
        " WHERE time_to_triage_s IS NOT NULL",
    ),
    (
        "ticket_lifecycle_triage_severity",
        "ticket_lifecycle",
        "(severity, time_to_triage_s) INCLUDE (triage_within_sla, opened_at, source)"
        " WHERE time_to_triage_s IS NOT NULL",
    ),
    (
        "ticket_lifecycle_triage_source",
        "ticket_lifecycle",
        "(source, time_to_triage_s) INCLUDE (triage_within_sla, opened_at, severity)"
        " WHERE time_to_triage_s IS NOT NULL",
    ),
    ("ticket_timeline_ticket", "ticket_timeline", "(ticket_id, occurred_at, sequence)"),
    *((name, t.name, definition) for t in ROW_TABLES for name, definition in t.indexes),
    *derived.INDEXES,
)
"""The projection tables' secondary indexes (name, table, definition): `ensure_schema` creates
them, a rebuild builds them on its new tables and gives them these names at the swap."""
PRIMARY_KEYS = {
    "ticket_lifecycle": "ticket_id",
    "ticket_timeline": "event_id, ticket_id",
    **{table.name: ", ".join(table.key) for table in ROW_TABLES},
    derived.TABLE: derived.KEY,
}
"""The projection tables' keys (constraint `<table>_pkey`)."""


FOLLOW_UP_STATE = """(
    SELECT ticket_id, follow_up,
           min(at) FILTER (WHERE kind = 'opened') AS opened_at,
           max(due_at) FILTER (WHERE kind = 'opened') AS due_at,
           min(at) FILTER (WHERE kind = 'closed') AS closed_at,
           (array_agg(actor ORDER BY at) FILTER (WHERE kind = 'closed'))[1] AS closed_by,
           min(at) FILTER (WHERE kind = 'overdue') AS overdue_at,
           (SELECT min(t.at) FROM {s}.follow_up_events t
            WHERE t.ticket_id = e.ticket_id AND t.kind = 'fast_track') AS fast_tracked_at
    FROM {s}.follow_up_events e WHERE follow_up IS NOT NULL GROUP BY ticket_id, follow_up)"""
"""One row per ticket and follow-up: when it was opened, due, closed (by whom), found overdue."""


def adoption_share_sql(counted: str = "") -> str:
    """The SQL of `v_adoption_share` (`{s}`: the schema); `counted` (` WHERE ...` on `day`,
    `kind`, `package`, `line`) narrows the counts before anything else, so the API's period,
    line and kind filters read only those days (the newest patch does not depend on them).

    The newest patch of a line on a UTC day is the highest patch of the `ReleasePublished`
    versions of that line published by the end of that day and not yanked (`ReleaseYanked`, on
    any channel) by then: installers skip a yanked version. It is the greater of two maxima: the
    running maximum of the patches never yanked (a window, as cheap as before) and, from the
    few yanked ones, those published by that day and yanked after it. `ReleasePublished` names no
    package: the release service publishes one product, and a count is matched by its line
    (`X.Y` of its version), whatever package it names. A day before the line's first
    publication has no newest patch and no row (its counts stay in `v_adoption_counts`)."""
    return f"""
WITH counts AS (
    SELECT * FROM (SELECT (counted_at AT TIME ZONE 'UTC')::date AS day, kind, package, line,
                          patch, count
                   FROM {{s}}.adoption_counts WHERE line IS NOT NULL) AS counted{counted}),
kept AS (
    SELECT line, day, max(max(patch)) OVER (PARTITION BY line ORDER BY day) AS newest_patch
    FROM (SELECT p.line, (p.published_at AT TIME ZONE 'UTC')::date AS day, p.patch
          FROM {{s}}.release_publications AS p
          WHERE p.line IN (SELECT line FROM counts)
            AND (p.line, p.patch) NOT IN (  -- one hashed subplan; no NULL inside, so NOT IN is safe
                SELECT y.line, y.patch FROM {{s}}.release_yanks AS y
                WHERE y.line IS NOT NULL AND y.patch IS NOT NULL)
          UNION ALL SELECT DISTINCT line, day, NULL::integer FROM counts) AS days
    GROUP BY line, day),
yanked AS MATERIALIZED (
    SELECT p.line, p.patch, min((p.published_at AT TIME ZONE 'UTC')::date) AS published_day,
           min((y.yanked_at AT TIME ZONE 'UTC')::date) AS yanked_day
    FROM {{s}}.release_publications AS p
    JOIN {{s}}.release_yanks AS y ON y.line = p.line AND y.patch = p.patch
    GROUP BY p.line, p.patch),
newest AS MATERIALIZED (  -- once per (line, day): inlined, its yanked subplan ran per count row
    SELECT k.line, k.day,
           greatest(k.newest_patch,
                    (SELECT max(w.patch) FROM yanked AS w WHERE w.line = k.line
                     AND w.published_day <= k.day AND k.day < w.yanked_day)) AS newest_patch
    FROM kept AS k)
SELECT c.day, c.kind, c.package, c.line, n.newest_patch,
       c.line || '.' || n.newest_patch AS newest_version,
       (coalesce(sum(c.count) FILTER (WHERE c.patch = n.newest_patch), 0))::bigint AS on_newest,
       sum(c.count)::bigint AS total,
       round(100.0 * coalesce(sum(c.count) FILTER (WHERE c.patch = n.newest_patch), 0)
             / nullif(sum(c.count), 0), 2)::double precision AS share_pct
FROM counts c JOIN newest n USING (day, line)
WHERE n.newest_patch IS NOT NULL
GROUP BY c.day, c.kind, c.package, c.line, n.newest_patch"""


VIEWS: dict[str, tuple[str, str]] = {
    "v_ticket_lifecycle": (
        "One row per ticket: state, severity, source, labels, every milestone, deadline and "
        "breach, and the durations between milestones in seconds.",
        """SELECT ticket_id, state, title, source, kind, severity, labels, opened_at, triaged_at,
                  triaged_by, triaged_automatically, triage_deadline, triage_breached_at,
                  decision, targets, owner, planned_at, plan_deadline, approved_at,
                  plan_breached_at, security_review, approvals, time_to_triage_s,
                  time_to_plan_s, time_to_approval_s, triage_within_sla, plan_within_sla,
                  updated_at
           FROM {s}.ticket_lifecycle""",
    ),
    "v_time_to_triage": (
        "Triaged tickets: first TicketOpened to first TicketTriaged, in seconds, and whether "
        "that triage met its deadline.",
        """SELECT ticket_id, severity, source, labels, opened_at, triaged_at,
                  time_to_triage_s AS seconds, triage_deadline, triage_within_sla AS within_sla
           FROM {s}.ticket_lifecycle WHERE triaged_at IS NOT NULL AND opened_at IS NOT NULL""",
    ),
    "v_time_to_plan": (
        "Planned tickets: first TicketTriaged to first BackportPlanned, in seconds.",
        """SELECT ticket_id, severity, source, labels, opened_at, triaged_at, planned_at,
                  time_to_plan_s AS seconds
           FROM {s}.ticket_lifecycle WHERE planned_at IS NOT NULL AND triaged_at IS NOT NULL""",
    ),
    "v_time_to_approval": (
        "Approved plans: first BackportPlanned to first PlanApproved, in seconds, and whether "
        "the approval met the plan deadline.",
        """SELECT ticket_id, severity, source, labels, opened_at, planned_at, approved_at,
                  time_to_approval_s AS seconds, plan_deadline, plan_within_sla AS within_sla
           FROM {s}.ticket_lifecycle WHERE approved_at IS NOT NULL AND planned_at IS NOT NULL""",
    ),
    "v_sla_compliance": (
        "Per ticket and SLA (triage, plan): the deadline, when it was met, and the outcome: "
        "met, missed (late or breached), pending (not due yet), open_overdue (due, not met) or "
        "closed (deferred, rejected or withdrawn before it was met: nothing is owed).",
        f"""SELECT ticket_id, severity, source, labels, opened_at, 'triage'::text AS sla,
                  triage_deadline AS deadline, triaged_at AS met_at,
                  triage_breached_at AS breached_at,
                  {sla_outcome("triaged_at", "triage_deadline", "triage_breached_at", "now()")}
                  AS outcome
           FROM {{s}}.ticket_lifecycle
           UNION ALL
           SELECT ticket_id, severity, source, labels, opened_at, 'plan'::text AS sla,
                  plan_deadline, approved_at, plan_breached_at,
                  {sla_outcome("approved_at", "plan_deadline", "plan_breached_at", "now()")}
           FROM {{s}}.ticket_lifecycle WHERE plan_deadline IS NOT NULL""",
    ),
    "v_backlog": (
        "Open tickets (waiting for triage, a plan or its approval) with their age in seconds.",
        """SELECT ticket_id, state, severity, source, labels, opened_at,
                  extract(epoch FROM now() - opened_at) AS age_s, triage_deadline, plan_deadline
           FROM {s}.ticket_lifecycle WHERE state IN ('opened', 'triaged', 'planned')""",
    ),
    "v_fast_track_audits": (
        "Emergency fast-tracks and what each owes afterwards (post-facto audit, postmortem): "
        "one row per ticket and follow-up, from EmergencyFastTrackApproved and FollowUpOpened "
        "to FollowUpClosed; status open (until a close event), overdue (FollowUpOverdue seen or "
        "due time passed, not closed) or closed; closed_late when closed after its due time.",
        f"""SELECT f.ticket_id, f.follow_up, l.severity, l.targets, f.fast_tracked_at,
                  f.opened_at, f.due_at, f.closed_at, f.closed_by, f.overdue_at,
                  {follow_up_status("f.closed_at", "f.overdue_at", "f.due_at", "now()")}
                  AS status,
                  {follow_up_closed_late("f.closed_at", "f.due_at", "now()")} AS closed_late
           FROM {FOLLOW_UP_STATE.format(s="{s}")} AS f
           LEFT JOIN {{s}}.ticket_lifecycle l USING (ticket_id)""",
    ),
    "v_adoption_counts": (
        "Downloads from the package channel (kind download, from lts.inbound.adoption) and "
        "telemetry pings of running deployments (kind ping) per UTC day, package, LTS line "
        "(X.Y) and version. Counts only: no address, user agent or deployment id is stored.",
        """SELECT (counted_at AT TIME ZONE 'UTC')::date AS day, kind, package, line, version,
                  patch, sum(count)::bigint AS count
           FROM {s}.adoption_counts GROUP BY 1, 2, 3, 4, 5, 6""",
    ),
    "v_adoption_share": (
        "Adoption of the newest patch per UTC day, kind (download, ping), package and line: "
        "newest_patch is the highest patch of the line's published releases (ReleasePublished, "
        "matched by line X.Y) by the end of that day; on_newest the count of that patch that "
        "day, total the line's count that day, share_pct their ratio. No row before the line's "
        "first publication.",
        adoption_share_sql(),
    ),
    "v_ticket_timeline": (
        "Every event about a ticket from every service: when, what, who (actor id and role), "
        "why (reason), in order (occurred_at, then sequence).",
        """SELECT ticket_id, occurred_at, sequence, event_type, source_service, actor_id,
                  actor_role, reason, summary, event_id
           FROM {s}.ticket_timeline""",
    ),
    "v_audit_log": (
        "The complete audit log: every event of every service as received, with the original "
        "event id, type, schema version, data, actor, role, reason and time.",
        """SELECT e.position, e.event_id, a.service, a.subject, e.type, e.schema_version,
                  coalesce(a.occurred_at, e.recorded_at) AS occurred_at,
                  e.metadata->'actor'->>'id' AS actor_id,
                  e.metadata->'actor'->>'role' AS actor_role,
                  e.metadata->>'reason' AS reason, e.metadata->>'correlation_id' AS correlation_id,
                  e.metadata->>'causation_id' AS causation_id, e.data, e.recorded_at, e.hash
           FROM {s}.events e LEFT JOIN {s}.audit_envelopes a USING (event_id)""",
    ),
    "v_audit_envelopes": (
        "Where each audited event came from: CloudEvents id, source, subject, time, topic, "
        "partition and offset.",
        """SELECT event_id, ce_id, ce_source, service, subject, occurred_at, stream_version,
                  topic, kafka_partition, kafka_offset, received_at
           FROM {s}.audit_envelopes""",
    ),
}


VIEWS.update(release_sql.VIEWS)


def view_sql(schema: str, name: str) -> str:
    """`CREATE OR REPLACE VIEW` of one of `VIEWS` (it binds the view to the tables of that name
    now: a rebuild's swap runs it again; comments and grants stay)."""
    return f"CREATE OR REPLACE VIEW {schema}.{name} AS {VIEWS[name][1].format(s=schema)}"


def _role_sql(role: str, password: str | None) -> str:
    login = "NOLOGIN" if password is None else "LOGIN"
    return f"""DO $$ BEGIN
        CREATE ROLE {role} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"""


async def ensure_schema(
    conn: AsyncConnection,
    *,
    schema: str,
    analyst_role: str,
    analyst_password: str | None,
    analyst_statement_timeout: int = 30,
) -> None:
    """Create tables, views and the analyst role (idempotent, serialised by an advisory lock)."""
    s, role = identifier(schema), identifier(analyst_role)
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"{s}.ddl"})
    await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {s}"))
    for statement in _tables(s):
        await conn.execute(text(statement))
    for name, (comment, _) in VIEWS.items():
        await conn.execute(text(view_sql(s, name)))
        await conn.execute(text(f"COMMENT ON VIEW {s}.{name} IS {_literal(comment)}"))
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('lts_analyst_role'))"))
    await conn.execute(text(_role_sql(role, analyst_password)))
    if analyst_password is not None:
        await conn.execute(text(f"ALTER ROLE {role} LOGIN PASSWORD {_literal(analyst_password)}"))
    timeout = int(analyst_statement_timeout)
    await conn.execute(text(f"ALTER ROLE {role} SET statement_timeout = '{timeout}s'"))
    await conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {role}"))
    views = ", ".join(f"{s}.{name}" for name in VIEWS)
    await conn.execute(text(f"GRANT SELECT ON {views} TO {role}"))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
