"""The outbox's decisions, pure: which deliveries a released revision calls for, what the next
step of a delivery is, and what a channel's answer makes of it. No clock, store or network."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lts_events.contracts.comms.delivery import (
    Channel,
    DeliveryAttempted,
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
    DeliveryTarget,
)
from lts_events.contracts.comms.documents import Audience, DocumentKind, DocumentReleased
from lts_events.event import Event

from lts_comms.delivery.outcome import Accepted, SendResult
from lts_comms.delivery.policy import RetryPolicy


@dataclass(frozen=True, slots=True)
class Route:
    """A configured destination other than mail: its channel, name, audience and the kinds it
    takes (all when empty)."""

    channel: Channel
    name: str
    audience: Audience
    kinds: tuple[DocumentKind, ...] = ()


def plan_targets(
    released: DocumentReleased,
    *,
    mail_lists: Mapping[DocumentKind, Sequence[str]],
    routes: Iterable[Route],
) -> tuple[DeliveryTarget, ...]:
    """One target per recipient: the kind's mail lists (for the audience it was released to),
    and every route of that audience taking that kind. A route of the other audience never
    gets it: internal channels get what was released internally (the status, never an
    embargoed advisory's details), external ones what was released externally."""
    mail = [
        DeliveryTarget(channel=Channel.EMAIL, recipient=address, audience=released.audience)
        for address in dict.fromkeys(mail_lists.get(released.kind, ()))
    ]
    hooks = [
        DeliveryTarget(channel=route.channel, recipient=route.name, audience=released.audience)
        for route in routes
        if route.audience is released.audience and (not route.kinds or released.kind in route.kinds)
    ]
    return (*mail, *hooks)


def delivery_id(document_id: str, revision: int, target: DeliveryTarget) -> str:
    """Unique per (document revision, channel, recipient): the outbox's idempotency unit."""
    return f"{document_id}.r{revision}.{target.channel.value}.{target.recipient}"


def idempotency_key(delivery: str, *, mail_domain: str) -> str:
    """The key every attempt of a delivery carries: for mail the Message-ID (RFC 5322
    `<left@right>`), for webhooks the `Idempotency-Key` header and the CloudEvent id. Derived
    from the delivery id, so a re-send after a restart carries the same one."""
    digest = hashlib.sha256(delivery.encode()).hexdigest()[:32]
    return f"<{digest}@{mail_domain}>"


@dataclass(frozen=True, slots=True)
class DeliveryState:
    attempts: int = 0
    concluded: int = 0
    """Attempts whose outcome (succeeded, failed) is stored."""
    done: bool = False


def fold(events: Iterable[Event]) -> DeliveryState:
    state = DeliveryState()
    for event in events:
        match event:
            case DeliveryAttempted():
                state = DeliveryState(event.attempt, state.concluded, state.done)
            case DeliveryFailed():
                state = DeliveryState(state.attempts, event.attempt, state.done)
            case DeliverySucceeded() | DeliveryGaveUp():
                state = DeliveryState(state.attempts, state.attempts, done=True)
    return state


@dataclass(frozen=True, slots=True)
class Send:
    """Send (again): attempt number `attempt`; `resends_unconfirmed` when the previous attempt
    was stored but never concluded."""

    attempt: int
    resends_unconfirmed: bool


@dataclass(frozen=True, slots=True)
class Stop:
    """Nothing to send: the delivery is over, or `gave_up` says why it ends now."""

    gave_up: DeliveryGaveUp | None = None


def next_step(
    state: DeliveryState, *, delivery: str, policy: RetryPolicy, now: datetime
) -> Send | Stop:
    """What a due delivery timer does. A delivery that keeps being attempted without an outcome
    (the process dies mid-send every time) ends after `max_attempts` too."""
    if state.done:
        return Stop()
    if state.attempts >= policy.max_attempts:
        reason = f"{state.attempts} attempts, the last ones never confirmed"
        return Stop(
            DeliveryGaveUp(
                delivery_id=delivery, attempts=state.attempts, reason=reason, gave_up_at=now
            )
        )
    return Send(state.attempts + 1, resends_unconfirmed=state.attempts > state.concluded)


@dataclass(frozen=True, slots=True)
class Concluded:
    events: tuple[Event, ...]
    retry_at: datetime | None = None


def conclude(
    result: SendResult, *, delivery: str, attempt: int, policy: RetryPolicy, now: datetime
) -> Concluded:
    """A channel's answer to attempt `attempt`: succeeded; failed and due again; or given up
    (a permanent failure, or the last try)."""
    if isinstance(result, Accepted):
        return Concluded(
            (
                DeliverySucceeded(
                    delivery_id=delivery,
                    attempt=attempt,
                    response=result.response,
                    delivered_at=now,
                ),
            )
        )
    retry_at = policy.retry_at(failed_attempt=attempt, failed_at=now) if result.transient else None
    if retry_at is not None:
        failed = DeliveryFailed(
            delivery_id=delivery,
            attempt=attempt,
            reason=result.reason,
            retry_at=retry_at,
            failed_at=now,
        )
        return Concluded((failed,), retry_at)
    reason = (
        result.reason if not result.transient else f"{attempt} attempts, the last: {result.reason}"
    )
    return Concluded(
        (DeliveryGaveUp(delivery_id=delivery, attempts=attempt, reason=reason, gave_up_at=now),)
    )
