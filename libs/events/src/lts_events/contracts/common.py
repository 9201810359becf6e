"""Vocabulary shared by several services' events."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """The runbook's scale, highest first. Its meaning (rubric, words, CVSS, ranks) lives in
    `lts_events.severity`."""

    BLOCKER = "blocker"
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class TicketSource(StrEnum):
    REPORT = "report"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    CLOUDEVENT = "cloudevent"
    OSV = "osv"
    GITHUB = "github"
    GITLAB = "gitlab"


TICKET_STREAM_PREFIX = "ticket-"


def ticket_stream(ticket_id: int) -> str:
    """The stream id of a ticket, in every service's store (each service owns its own copy)."""
    return f"{TICKET_STREAM_PREFIX}{ticket_id}"


def ticket_id_of(stream_id: str | None) -> int | None:
    """The ticket of a ticket's stream id (the inverse of `ticket_stream`); None for any other
    stream."""
    if stream_id is None or not stream_id.startswith(TICKET_STREAM_PREFIX):
        return None
    number = stream_id[len(TICKET_STREAM_PREFIX) :]
    return int(number) if number.isdigit() else None
