"""Adoption of LTS releases and the post-facto audits of emergency fast-tracks, from their views
(`schema.VIEWS`: the definitions live there, once)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lts_metrics.queries_release import validated
from lts_metrics.schema import (
    FOLLOW_UP_STATE,
    adoption_share_sql,
    follow_up_closed_late,
    follow_up_status,
    identifier,
)
from lts_metrics.scope import Scope


class AdoptionShare(BaseModel):
    day: date
    kind: str
    package: str
    line: str
    newest_version: str
    on_newest: int
    total: int
    share_pct: float | None


_SHARES = TypeAdapter(list[AdoptionShare])


class FastTrackAudit(BaseModel):
    ticket_id: int
    follow_up: str
    severity: str | None
    fast_tracked_at: datetime | None
    opened_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    overdue_at: datetime | None
    status: str
    closed_late: bool


class AdoptionQueries:
    def __init__(self, engine: AsyncEngine, *, schema: str) -> None:
        self._engine = engine
        self._s = identifier(schema)

    async def adoption(self, scope: Scope, *, kind: str | None = None) -> list[AdoptionShare]:
        """Per day, kind, package and line: the share on the newest published patch
        (`v_adoption_share`'s SQL). The period selects days: [start, end) by their UTC date."""
        extra = ["kind = :kind"] if kind else []
        where, params = scope.where(*extra, time="day", line="line")
        if kind:
            params["kind"] = kind
        share = adoption_share_sql(where).format(s=self._s)  # the view's SQL, counts narrowed
        sql = (
            "SELECT day, kind, package, line, newest_version, on_newest, total, share_pct"
            f" FROM ({share}) AS shares ORDER BY line, kind, package, day"
        )
        async with self._engine.connect() as conn:
            # a row per day, line and kind: 1,460 for a year of 4 lines
            return validated(_SHARES, await conn.execute(text(sql), _dates(params)))

    async def fast_track_audits(
        self, scope: Scope, *, at: datetime, status: str | None = None, limit: int = 500
    ) -> list[FastTrackAudit]:
        """Follow-ups of emergency fast-tracks (`v_fast_track_audits`, evaluated at `at`), the
        `limit` latest opened; the period selects them by when they were opened."""
        state = FOLLOW_UP_STATE.format(s=self._s)
        at_sql = "CAST(:at AS timestamptz)"
        outcome = follow_up_status("f.closed_at", "f.overdue_at", "f.due_at", at_sql)
        late = follow_up_closed_late("f.closed_at", "f.due_at", at_sql)
        where, params = scope.where(time="opened_at", severity="severity")
        sql = f"""
            SELECT * FROM (
                SELECT f.ticket_id, f.follow_up,
                       (SELECT l.severity FROM {self._s}.ticket_lifecycle l
                        WHERE l.ticket_id = f.ticket_id) AS severity,
                       f.fast_tracked_at, f.opened_at, f.due_at, f.closed_at, f.closed_by,
                       f.overdue_at, {outcome} AS status, {late} AS closed_late
                FROM {state} AS f
            ) audits{where}{" AND" if where else " WHERE"} (CAST(:status AS text) IS NULL
                                                             OR status = :status)
            ORDER BY opened_at DESC NULLS LAST, ticket_id, follow_up LIMIT {int(limit)}"""
        async with self._engine.connect() as conn:
            rows = await conn.execute(text(sql), {**params, "at": at, "status": status})
            audits = validated(_AUDITS, rows)
        return sorted(audits, key=_by_due)


_AUDITS = TypeAdapter(list[FastTrackAudit])


def _by_due(audit: FastTrackAudit) -> tuple[bool, datetime | None, int, str]:
    """Soonest due first, those without a due time last."""
    return (audit.due_at is None, audit.due_at, audit.ticket_id, audit.follow_up)


def _dates(params: dict[str, object]) -> dict[str, object]:
    """The period's bounds as UTC dates for a view keyed by day."""
    return {
        k: (v.astimezone(UTC).date() if isinstance(v, datetime) else v) for k, v in params.items()
    }
