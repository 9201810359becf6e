"""This project's own advisory as an OSV record (schema 1.7.5), so that osv-scanner and
pip-audit style tools can read it: one `affected` entry per LTS line whose fix is published,
with an ECOSYSTEM range `introduced` (the line's first version) .. `fixed`. A fix not published
yet (a candidate) or rolled back is not listed: the record never claims a fix that is not out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lts_comms.contexts import AdvisoryContext

SCHEMA_VERSION = "1.7.5"
SUMMARY_LIMIT = 120


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC with a trailing Z, as the schema's pattern requires."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def osv_record(
    context: AdvisoryContext, *, details: str, modified: datetime, published: datetime | None
) -> dict[str, Any]:
    fixes = [f for f in context.fixed_in if f.published_at is not None and not f.rolled_back]
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": context.advisory_id,
        "modified": timestamp(modified),
        "summary": _summary(context.title),
        "details": details,
        "aliases": list(context.cve_ids),
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": context.package},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": fix.introduced}, {"fixed": fix.fixed}],
                    }
                ],
                "database_specific": {"lts_line": fix.lts_line},
            }
            for fix in fixes
        ],
        "references": [{"type": "ADVISORY", "url": context.advisory_url}],
        "database_specific": {"severity": context.severity, "ticket_id": context.ticket_id},
    }
    if published is not None:
        record["published"] = timestamp(published)
    if context.credit:
        record["credits"] = [{"name": context.credit, "type": "REPORTER"}]
    return record


def _summary(title: str) -> str:
    return title if len(title) <= SUMMARY_LIMIT else title[: SUMMARY_LIMIT - 1] + "…"
