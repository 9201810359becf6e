"""Composition root: the triage service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, serve

from lts_triage.api import build_router
from lts_triage.config import Settings
from lts_triage.handlers import TriageHandlers
from lts_triage.kafka import triage_subscriptions


def build(context: ServiceContext) -> ServiceParts:
    """One handler shell (store, policy, clock) for the routes, the consumer and the timers;
    the intake topic can be renamed (isolated tests); consumer group = the service name."""
    settings = Settings()
    handlers = TriageHandlers(
        context.store, policy=settings.policy(), clock=context.clock, consumer=context.name
    )
    return ServiceParts(
        routers=(build_router(handlers, context.authenticator),),
        subscriptions=triage_subscriptions(
            handlers,
            consumer=context.name,
            store=context.store,
            intake_topic=settings.intake_topic,
        ),
        timer_handler=handlers.on_timer,
    )


SPEC = ServiceSpec(
    name="triage",
    build=build,
    title="LTS Flow triage: severity, SLA, risk, backport decision, plan and approvals",
)


def main() -> None:
    serve(SPEC)
