"""What `lts comms outbox` shows: each delivery's state folded from its events, and each mail
in a maildir (pure but for reading the maildir)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lts_events.contracts.comms.delivery import (
    DeliveryAttempted,
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
)
from lts_events.event import Event

from lts_comms.delivery.channels.email import DOCUMENT_HEADER


@dataclass
class DeliveryRow:
    delivery_id: str
    document: str
    channel: str
    recipient: str
    status: str  # sending | retrying | delivered | gave up
    attempts: int
    detail: str  # the last response or reason
    at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def delivery_rows(events: Iterable[Event]) -> list[DeliveryRow]:
    """One row per delivery, in the order they were first attempted."""
    rows: dict[str, DeliveryRow] = {}
    for event in events:
        match event:
            case DeliveryAttempted():
                target = event.target
                row = rows.setdefault(
                    event.delivery_id,
                    DeliveryRow(
                        event.delivery_id,
                        f"{event.document_id} r{event.revision}",
                        target.channel.value,
                        target.recipient,
                        "sending",
                        0,
                        "",
                        "",
                    ),
                )
                row.status, row.attempts, row.at = (
                    "sending",
                    event.attempt,
                    event.attempted_at.isoformat(),
                )
            case DeliverySucceeded() if event.delivery_id in rows:
                _conclude(rows[event.delivery_id], "delivered", event.response, event.delivered_at)
            case DeliveryFailed() if event.delivery_id in rows:
                _conclude(rows[event.delivery_id], "retrying", event.reason, event.failed_at)
            case DeliveryGaveUp() if event.delivery_id in rows:
                _conclude(rows[event.delivery_id], "gave up", event.reason, event.gave_up_at)
    return list(rows.values())


def _conclude(row: DeliveryRow, status: str, detail: str, at: datetime) -> None:
    row.status, row.detail, row.at = status, detail, at.isoformat()


@dataclass
class MailRow:
    arrived: str
    to: str
    subject: str
    message_id: str
    document: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def maildir_rows(path: Path) -> list[MailRow]:
    """Every message in the maildir at `path` (none when there is no maildir), oldest first."""
    if not (path / "new").is_dir():
        return []
    rows = [
        MailRow(
            datetime.fromtimestamp(message.get_date(), UTC).isoformat(timespec="seconds"),
            str(message.get("To", "")),
            str(message.get("Subject", "")),
            str(message.get("Message-ID", "")),
            str(message.get(DOCUMENT_HEADER, "")),
        )
        for message in mailbox.Maildir(path, create=False)
    ]
    return sorted(rows, key=lambda row: row.arrived)
