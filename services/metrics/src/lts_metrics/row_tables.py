"""Every event-grain table (`rows.RowTable`) with its mappers registered on `rows.ROWS`:
import this module, not the parts, to project them all."""

from __future__ import annotations

from lts_metrics import rows, rows_release

ALL: tuple[rows.RowTable, ...] = (*rows.TABLES, *rows_release.TABLES)
