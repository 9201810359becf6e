"""Pure decisions over one ticket: its state folded from its events, and what a command adds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from lts_events.contracts.intake import (
    AdvisoryWithdrawn,
    AlertOccurrenceRecorded,
    AlertResolved,
    DuplicateLinked,
    GitMetadata,
    Label,
    ReleaseRef,
    TicketEnriched,
    TicketLabelled,
    TicketOpened,
)
from lts_events.event import Event

from lts_intake import enrich
from lts_intake.model import (
    AddLabels,
    Command,
    Ignore,
    OpenTicket,
    ResolveAlert,
    TicketDraft,
    WithdrawAdvisory,
)
from lts_intake.standardize import IntakePolicy


@dataclass(frozen=True, slots=True)
class TicketState:
    ticket_id: int
    fingerprint: str | None = None
    labels: frozenset[str] = frozenset()
    firings: frozenset[datetime] = frozenset()
    resolved: frozenset[datetime | None] = frozenset()
    occurrences: int = 0
    refs: frozenset[str] = frozenset()
    withdrawn: frozenset[str] = frozenset()


def evolve(state: TicketState | None, event: Event) -> TicketState | None:
    match event:
        case TicketOpened():
            starts = _starts_at(event)
            return TicketState(
                ticket_id=event.ticket_id,
                fingerprint=event.alert_fingerprint,
                labels=frozenset(event.labels),
                firings=frozenset({starts}) if starts else frozenset(),
                occurrences=1 if event.alert_fingerprint else 0,
                refs=frozenset(r for r in (event.external_ref,) if r),
            )
        case _ if state is None:
            return None
        case TicketLabelled():
            return replace(state, labels=state.labels | set(event.labels))
        case AlertOccurrenceRecorded():
            return replace(
                state, firings=state.firings | {event.starts_at}, occurrences=event.occurrence
            )
        case AlertResolved():
            return replace(state, resolved=state.resolved | {event.starts_at})
        case DuplicateLinked():
            return replace(state, refs=state.refs | {event.duplicate_ref})
        case AdvisoryWithdrawn():
            return replace(state, withdrawn=state.withdrawn | {event.advisory_id})
    return state


def fold(events: Iterable[Event]) -> TicketState | None:
    state: TicketState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def _starts_at(opened: TicketOpened) -> datetime | None:
    alert = opened.raw.get("alert") if isinstance(opened.raw, dict) else None
    value = alert.get("startsAt") if isinstance(alert, dict) else None
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Context:
    """What the shell looked up for the decision: the id reserved for a new ticket, recent
    releases (for regressions) and git metadata, when configured."""

    ticket_id: int
    now: datetime
    policy: IntakePolicy = field(default_factory=IntakePolicy)
    releases: Sequence[ReleaseRef] = ()
    regression_window: timedelta = timedelta(hours=24)
    git: GitMetadata | None = None


def decide(state: TicketState | None, command: Command, ctx: Context) -> list[Event]:
    match command:
        case OpenTicket():
            if state is None:
                return open_ticket(command, ctx)
            return _again(state, command)
        case ResolveAlert():
            return _resolve(state, command)
        case WithdrawAdvisory():
            return _withdraw(state, command)
        case AddLabels():
            new = [label for label in command.labels if state and label not in state.labels]
            if state is None or not new:
                return []
            return [TicketLabelled(ticket_id=state.ticket_id, labels=new, reason=command.reason)]
        case Ignore():
            return []


def open_ticket(command: OpenTicket, ctx: Context) -> list[Event]:
    draft = command.draft
    regressions = (
        enrich.possible_regressions(
            command.alert_starts_at, ctx.releases, window=ctx.regression_window
        )
        if command.alert_starts_at
        else []
    )
    labels = list(draft.labels)
    if regressions and Label.REGRESSION not in labels:
        labels.append(str(Label.REGRESSION))
    opened = opened_from(draft, ticket_id=ctx.ticket_id, labels=labels)
    enriched = _enrichment(opened, regressions, ctx)
    return [opened, enriched] if enriched is not None else [opened]


_DRAFT_FIELDS = tuple(TicketDraft.model_fields)


def opened_from(draft: TicketDraft, *, ticket_id: int, labels: list[str]) -> TicketOpened:
    """`TicketOpened(ticket_id=ticket_id, **draft.model_dump(), labels=labels)` without dumping
    and validating the draft again: its fields were validated when it was made (a unit test
    holds the two equal). Only the id and the labels are new here."""
    if ticket_id < 1 or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"not a ticket id and labels: {ticket_id!r}, {labels!r}")
    values = {name: getattr(draft, name) for name in _DRAFT_FIELDS}
    values["labels"] = labels
    return TicketOpened.model_construct(ticket_id=ticket_id, **values)


def _enrichment(
    opened: TicketOpened, regressions: list[ReleaseRef], ctx: Context
) -> TicketEnriched | None:
    """What intake derived beyond the submitted fields: a traceback summary, possible
    regressions, git metadata (with the parsed environment, packages and LTS lines alongside).
    None when nothing was derived, so tickets without any carry no redundant event."""
    summary = enrich.parse_traceback(opened.traceback, project_modules=ctx.policy.project_modules)
    if summary is None and not regressions and ctx.git is None:
        return None
    return TicketEnriched(
        ticket_id=opened.ticket_id,
        traceback=summary,
        environment=opened.environment,
        python_version=opened.python_version,
        package_versions=opened.package_versions,
        affected_lts_lines=opened.affected_lts_lines,
        possible_regressions=regressions,
        git=ctx.git,
    )


def _again(state: TicketState, command: OpenTicket) -> list[Event]:
    """A known ticket arrived again: an alert re-fired, or a duplicate report/advisory."""
    draft = command.draft
    if draft.alert_fingerprint and draft.alert_fingerprint == state.fingerprint:
        starts = command.alert_starts_at
        if starts is None or starts in state.firings:
            return []  # Alertmanager repeats a firing alert every repeat_interval: same occurrence
        return [
            AlertOccurrenceRecorded(
                ticket_id=state.ticket_id,
                fingerprint=draft.alert_fingerprint,
                source=draft.source,
                starts_at=starts,
                occurrence=state.occurrences + 1,
                alert_severity=draft.alert_severity,
                raw=draft.raw,
            )
        ]
    if command.ref in state.refs:
        return []
    shared = _shared_alias(state, command)
    return [
        DuplicateLinked(
            ticket_id=state.ticket_id,
            source=draft.source,
            duplicate_ref=command.ref,
            alias_matched=shared,
            cve_ids=draft.cve_ids,
            advisory_ids=draft.advisory_ids,
            raw=draft.raw,
        )
    ]


def _shared_alias(state: TicketState, command: OpenTicket) -> str | None:
    for key in command.keys:
        if key.startswith("advisory:"):
            return key.removeprefix("advisory:")
    return None


def _resolve(state: TicketState | None, command: ResolveAlert) -> list[Event]:
    if state is None or state.fingerprint != command.fingerprint:
        return []
    if command.starts_at in state.resolved:
        return []
    return [
        AlertResolved(
            ticket_id=state.ticket_id,
            fingerprint=command.fingerprint,
            source=command.source,
            starts_at=command.starts_at,
            ends_at=command.ends_at,
            raw=command.raw,
        )
    ]


def _withdraw(state: TicketState | None, command: WithdrawAdvisory) -> list[Event]:
    if state is None or command.advisory_id in state.withdrawn:
        return []
    return [
        AdvisoryWithdrawn(
            ticket_id=state.ticket_id,
            advisory_id=command.advisory_id,
            withdrawn_at=command.withdrawn_at,
            raw=command.raw,
        )
    ]
