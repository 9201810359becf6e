"""Composition root: the triage service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter
from lts_events.consumer import Subscriptions
from lts_events.service import ServiceContext, ServiceSpec, serve
from lts_events.store.port import Timer

from lts_triage.api import build_router
from lts_triage.config import Settings
from lts_triage.handlers import TriageHandlers
from lts_triage.kafka import triage_subscriptions


def handlers_for(context: ServiceContext) -> TriageHandlers:
    """The handler shell (stateless: store, policy, clock), one per builder."""
    return TriageHandlers(
        context.store, policy=Settings().policy(), clock=context.clock, consumer=context.name
    )


def routers(context: ServiceContext) -> Sequence[APIRouter]:
    return (build_router(handlers_for(context), context.authenticator),)


def subscriptions(context: ServiceContext) -> Subscriptions:
    """Consumer group = the service name; the intake topic can be renamed (isolated tests)."""
    settings = Settings()
    return triage_subscriptions(
        handlers_for(context),
        consumer=context.name,
        store=context.store,
        intake_topic=settings.intake_topic,
    )


def timer_handler(context: ServiceContext) -> Callable[[Timer], Awaitable[None]]:
    return handlers_for(context).on_timer


SPEC = ServiceSpec(
    name="triage",
    routers=routers,
    subscriptions=subscriptions,
    timer_handler=timer_handler,
    title="LTS Flow triage: severity, SLA, risk, backport decision, plan and approvals",
)


def main() -> None:
    serve(SPEC)
