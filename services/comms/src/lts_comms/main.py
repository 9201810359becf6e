"""Composition root: the comms service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from lts_events.consumer import Subscriptions
from lts_events.service import ServiceContext, ServiceSpec, serve

from lts_comms.config import Settings
from lts_comms.handlers import CommsHandlers
from lts_comms.kafka import comms_subscriptions


def handlers_for(context: ServiceContext) -> CommsHandlers:
    return CommsHandlers(context.store, clock=context.clock, consumer=context.name)


def subscriptions(context: ServiceContext) -> Subscriptions:
    """The service's one consumer group (= its name); the delivery side adds its routes here."""
    return comms_subscriptions(
        handlers_for(context), consumer=context.name, store=context.store, settings=Settings()
    )


SPEC = ServiceSpec(
    name="comms",
    subscriptions=subscriptions,
    title="LTS Flow comms: release notes, advisories under embargo, internal status, delivery",
)


def main() -> None:
    serve(SPEC)
