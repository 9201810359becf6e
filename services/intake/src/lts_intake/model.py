"""What intake makes of any input: a ticket draft plus the command it implies for one ticket.

Parsers (`standardize`) turn producer payloads into these; `domain.decide` turns them into events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lts_events.contracts.common import TicketSource
from lts_events.contracts.intake import TicketFields

# Every `TicketOpened` field except the id, which is assigned when the ticket is opened.
TicketDraft = TicketFields


@dataclass(frozen=True, slots=True)
class AffectedRange:
    """One OSV range interval: [introduced, fixed) or [introduced, last_affected]."""

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """Open a ticket from `draft` unless one of `keys` is already known: then the existing ticket
    gets an occurrence (same alert) or a duplicate link (same advisory / issue)."""

    draft: TicketDraft
    keys: tuple[str, ...]
    alert_starts_at: datetime | None = None

    @property
    def ref(self) -> str:
        return self.draft.external_ref or self.keys[0]


@dataclass(frozen=True, slots=True)
class ResolveAlert:
    fingerprint: str
    source: TicketSource
    ends_at: datetime
    starts_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> tuple[str, ...]:
        return (alert_key(self.fingerprint),)


@dataclass(frozen=True, slots=True)
class WithdrawAdvisory:
    advisory_id: str
    aliases: tuple[str, ...]
    withdrawn_at: datetime
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(advisory_key(i) for i in (self.advisory_id, *self.aliases))


@dataclass(frozen=True, slots=True)
class AddLabels:
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Ignore:
    """An input that is valid but asks nothing of intake (e.g. an issue `assigned` action)."""

    reason: str
    keys: tuple[str, ...] = ()


Command = OpenTicket | ResolveAlert | WithdrawAdvisory | AddLabels | Ignore


def alert_key(fingerprint: str) -> str:
    return f"alert:{fingerprint}"


def advisory_key(advisory_id: str) -> str:
    return f"advisory:{advisory_id.strip().upper()}"


def unique(items: list[str] | tuple[str, ...]) -> list[str]:
    """Items in first-seen order without repeats (case-sensitive)."""
    return list(dict.fromkeys(i for i in items if i))


def why_nothing(command: Command) -> str:
    """Why a command changed no ticket when none was known (an input understood but not acted
    on is answered "ignored" with this, so the sender knows why and does not retry)."""
    match command:
        case Ignore():
            return command.reason
        case ResolveAlert():
            return (
                f"alert {command.fingerprint} resolved, but no ticket was opened for it "
                "(a resolved alert opens none)"
            )
        case WithdrawAdvisory():
            return (
                f"{command.advisory_id} is withdrawn and no ticket knows it or its aliases "
                "(a withdrawn advisory opens none)"
            )
        case AddLabels():
            return "labels added to an issue no ticket was opened for"
        case OpenTicket():
            return "no ticket was opened"
