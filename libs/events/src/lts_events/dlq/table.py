"""How `lts dlq list` shows messages: a fixed-width table for people, JSON for tools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lts_events.dlq.messages import DeadLetterRecord, DlqRef, Replay

COLUMNS = ("DLQ", "FAILED AT", "SOURCE", "CONSUMER", "REASON", "TYPE", "ID", "REPLAYED", "ERROR")
_ERROR_WIDTH = 60


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _cells(record: DeadLetterRecord, replays: Sequence[Replay]) -> tuple[str, ...]:
    source = record.source_topic or "?"
    if record.source_partition is not None and record.source_offset is not None:
        source += f" {record.source_partition}:{record.source_offset}"
    last = replays[-1] if replays else None
    replayed = "-" if last is None else f"{last.at:%Y-%m-%d %H:%M} {last.by}"
    if len(replays) > 1:
        replayed += f" (x{len(replays)})"
    error = f"{record.error_type or ''}: {record.error or ''}".strip(": ")
    if len(error) > _ERROR_WIDTH:
        error = error[: _ERROR_WIDTH - 1] + "…"
    return (
        str(record.ref),
        f"{record.failed_at:%Y-%m-%d %H:%M:%S}",
        source,
        record.consumer or "?",
        record.reason,
        record.event_type or "-",
        record.message_id or "-",
        replayed,
        " ".join(error.split()),
    )


def render_table(
    records: Sequence[DeadLetterRecord], replays: Mapping[DlqRef, Sequence[Replay]]
) -> str:
    rows = [COLUMNS, *(_cells(r, replays.get(r.ref, ())) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in rows
    )


def as_json(record: DeadLetterRecord, replays: Sequence[Replay]) -> dict[str, Any]:
    """Every fact of a DLQ message, its original message and its recorded replays."""
    return {
        "dlq_partition": record.ref.partition,
        "dlq_offset": record.ref.offset,
        "failed_at": record.failed_at.isoformat(),
        "reason": record.reason,
        "error_type": record.error_type,
        "error": record.error,
        "source_topic": record.source_topic,
        "source_partition": record.source_partition,
        "source_offset": record.source_offset,
        "consumer": record.consumer,
        "message_id": record.message_id,
        "event_type": record.event_type,
        "key": _text(record.key),
        "value": _text(record.value),
        "headers": {k: _text(v) for k, v in record.original_headers},
        "replays": [{"at": r.at.isoformat(), "by": r.by, "forced": r.forced} for r in replays],
    }
