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


def ticket_stream(ticket_id: int) -> str:
    """The stream id of a ticket, in every service's store (each service owns its own copy)."""
    return f"ticket-{ticket_id}"
