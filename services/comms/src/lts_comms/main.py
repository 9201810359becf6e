"""Composition root: the comms service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter
from lts_events.consumer import Subscriptions
from lts_events.contracts.comms.documents import DocumentReleased
from lts_events.service import ServiceContext, ServiceSpec, serve
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


def drafter_for(settings: Settings) -> Drafter:
    """The templates are loaded and checked here, at start: a bad override stops the service
    with the template's name and line instead of failing the first release."""
    return Drafter(load_templates(settings.template_dir), settings.links())


def handlers_for(context: ServiceContext) -> CommsHandlers:
    return CommsHandlers(
        context.store, clock=context.clock, drafter=drafter_for(Settings()), consumer=context.name
    )


def subscriptions(context: ServiceContext) -> Subscriptions:
    """The service's one consumer group (= its name): drafting's inputs and the outbox's."""
    subscribed = comms_subscriptions(
        handlers_for(context), consumer=context.name, store=context.store, settings=Settings()
    )
    # planning appends with the message marked processed: a redelivery plans nothing twice
    subscribed.on(DocumentReleased, outbox_for(context).on_document_released, append_dedups=True)
    return subscribed


def routers(context: ServiceContext) -> Sequence[APIRouter]:
    """The documents (drafts, reviews, embargo), the public feeds and OSV records of released
    documents, and where each was delivered."""
    catalog = ReleasedCatalog(context.store)
    return (
        build_router(handlers_for(context), context.authenticator),
        build_feeds_router(catalog, base_url=DeliverySettings().public_url),
        build_deliveries_router(DeliveryLog(context.store), context.authenticator),
    )


def timer_handler(context: ServiceContext) -> Callable[[Timer], Awaitable[None]]:
    """Timers by kind: an advisory's embargo lift, a delivery's next try."""
    by_kind = {
        EMBARGO_TIMER: handlers_for(context).on_timer,
        TIMER_KIND: outbox_for(context).on_timer,
    }

    async def on_timer(timer: Timer) -> None:
        await by_kind[timer.kind](timer)

    return on_timer


SPEC = ServiceSpec(
    name="comms",
    routers=routers,
    subscriptions=subscriptions,
    timer_handler=timer_handler,
    title="LTS Flow comms: release notes, advisories under embargo, internal status, delivery",
)


def main() -> None:
    serve(SPEC)
