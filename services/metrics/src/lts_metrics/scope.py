"""The filters of the metrics after triage (line, severity, period), as SQL conditions on a
view's columns: each metric says which of its columns is its time, line and severity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Scope:
    """Rows whose time is in [start, end), of an LTS line (`X.Y`), of a ticket severity."""

    start: datetime | None = None
    end: datetime | None = None
    line: str | None = None
    severity: str | None = None

    def where(
        self,
        *conditions: str,
        time: str,
        line: str | None = None,
        severity: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """` WHERE ...` over the named columns (a metric without a line or severity column
        ignores that filter) and its parameters."""
        clauses, params = list(conditions), dict[str, Any]()
        if self.start is not None:
            clauses.append(f"{time} >= :start")
            params["start"] = self.start
        if self.end is not None:
            clauses.append(f"{time} < :end")
            params["end"] = self.end
        if self.line is not None and line is not None:
            clauses.append(f"{line} = :line")
            params["line"] = self.line
        if self.severity is not None and severity is not None:
            clauses.append(f"{severity} = :severity")
            params["severity"] = self.severity
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
