"""Composition root: the comms service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from lts_events.contracts.comms.documents import DocumentReleased
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, serve
from lts_events.store.port import Timer

from lts_comms.api import build_router
from lts_comms.config import Settings
from lts_comms.delivery.api import build_deliveries_router, build_feeds_router
from lts_comms.delivery.catalog import DeliveryLog, ReleasedCatalog
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.outbox import TIMER_KIND
from lts_comms.delivery.wiring import outbox_for
from lts_comms.drafting import Drafter
from lts_comms.handlers import EMBARGO_TIMER, CommsHandlers
from lts_comms.kafka import comms_subscriptions
from lts_comms.templates import load_templates


def build(context: ServiceContext) -> ServiceParts:
    """The documents (drafts, reviews, embargo), the outbox that delivers released ones, the
    public feeds and OSV records, and where each was delivered. The templates are loaded and
    checked here, at start: a bad override stops the service with the template's name and line
    instead of failing the first release."""
    settings = Settings()
    drafter = Drafter(load_templates(settings.template_dir), settings.links())
    handlers = CommsHandlers(
        context.store, clock=context.clock, drafter=drafter, consumer=context.name
    )
    delivery = DeliverySettings()
    outbox = outbox_for(context, delivery)
    # the service's one consumer group (= its name): drafting's inputs and the outbox's;
    # planning appends with the message marked processed: a redelivery plans nothing twice
    subscriptions = comms_subscriptions(
        handlers, consumer=context.name, store=context.store, settings=settings
    )
    subscriptions.on(DocumentReleased, outbox.on_document_released, append_dedups=True)
    by_kind = {EMBARGO_TIMER: handlers.on_timer, TIMER_KIND: outbox.on_timer}

    async def on_timer(timer: Timer) -> None:
        await by_kind[timer.kind](timer)

    return ServiceParts(
        routers=(
            build_router(handlers, context.authenticator),
            build_feeds_router(ReleasedCatalog(context.store), base_url=delivery.public_url),
            build_deliveries_router(DeliveryLog(context.store), context.authenticator),
        ),
        subscriptions=subscriptions,
        timer_handler=on_timer,
    )


SPEC = ServiceSpec(
    name="comms",
    build=build,
    title="LTS Flow comms: release notes, advisories under embargo, internal status, delivery",
)


def main() -> None:
    serve(SPEC)
