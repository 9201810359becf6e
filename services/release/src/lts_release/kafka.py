"""The release service's one `Subscriptions` (consumer group = the service name): triage's
events (`lts.triage.events`) and the service's own (`lts.release.events`: CI results,
candidates, publications, rollouts come back to the parts that react to them). Decode and hand
to the parts' handlers, nothing else; each part adds its lines here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from lts_events.consumer import Inbound, Subscriptions
from lts_events.contracts.release.backports import BackportOpened
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.ci import CiResultRecorded
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.triage import (
    BackportDecided,
    BackportPlanned,
    PlanApproved,
    TicketClosed,
    TicketReceived,
    TicketTriaged,
)
from lts_events.event import Event
from lts_events.store.port import EventStore

from lts_release.parts import ReleaseParts

E = TypeVar("E", bound=Event)
TRIAGE_TOPIC = "lts.triage.events"
RELEASE_TOPIC = "lts.release.events"
# What opens, revises and closes backports (a ticket's events keep their order: one key)
TRIAGE_EVENTS = (
    TicketReceived,
    TicketTriaged,
    BackportDecided,
    BackportPlanned,
    PlanApproved,
    TicketClosed,
)
INBOUND_CI = "lts.inbound.ci"  # CI results as CloudEvents (lts_release.ci.cloudevents)


def fan_out(
    *handlers: Callable[[Inbound[E]], Awaitable[None]],
) -> Callable[[Inbound[E]], Awaitable[None]]:
    """One handler calling several parts' handlers in turn: `Subscriptions.on` takes one handler
    per event type, and several parts react to the same event. Each part's appends must record
    the message under their own processed id (`origin_of(..., part=...)`) so a redelivery after
    a crash half-way repeats none of them; at most one, the last, may record the message's own
    id (the runtime skips a message whose id is recorded, so the others must be done by then)."""

    async def each(inbound: Inbound[E]) -> None:
        for handler in handlers:
            await handler(inbound)

    return each


def release_subscriptions(
    parts: ReleaseParts,
    *,
    consumer: str,
    store: EventStore,
    triage_topic: str = TRIAGE_TOPIC,
    release_topic: str = RELEASE_TOPIC,
    inbound_ci_topic: str = INBOUND_CI,
) -> Subscriptions:
    """`triage_topic` and `release_topic` rename the topics (isolated tests: the service's own
    topic is `lts.<service name>.events`)."""
    subscriptions = Subscriptions(
        consumer,
        store=store,
        topics={
            TRIAGE_TOPIC: triage_topic,
            RELEASE_TOPIC: release_topic,
            INBOUND_CI: inbound_ci_topic,
        },
    )
    # -- core (relcore): backports from triage, gates from CI results, the line index
    # (each handler's only effects are appends recording the message: append_dedups)
    for triage_event in TRIAGE_EVENTS:
        subscriptions.on(triage_event, parts.backports.on_triage, append_dedups=True)
    subscriptions.on(CiResultRecorded, parts.backports.on_ci_result, append_dedups=True)
    subscriptions.on(
        CandidateOpened,
        fan_out(parts.backports.on_candidate_opened, parts.line_index.on_candidate_opened),
    )
    subscriptions.on(BackportOpened, parts.line_index.on_backport_opened, append_dedups=True)
    # -- ci (relci): CI results as CloudEvents; a bad one goes to the DLQ with the reason
    subscriptions.on_raw_batch(INBOUND_CI, parts.ci.on_inbound_batch)
    # -- staging (relstage)
    # -- publication (relpub)
    # -- rollout (relroll): a publication starts a rollout; health alerts of versions under it
    subscriptions.on_raw(
        parts.settings.rollout_health_topic, parts.rollout.on_health_message, append_dedups=True
    )
    # -- several parts react to a published release (Subscriptions.on keeps one handler per
    # type, a second `on` would silently replace the first): add yours to the fan-out
    subscriptions.on(
        ReleasePublished,
        fan_out(parts.backports.on_release_published, parts.rollout.on_release_published),
    )
    return subscriptions
