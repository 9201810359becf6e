"""The delivery side's parts for the composition root (`lts_comms.main`): the outbox with its
channels, and the HTTP client the webhooks share, closed when the service stops."""

from __future__ import annotations

import asyncio

import httpx
from lts_events.service import ServiceContext

from lts_comms.delivery.channels import Channels
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.outbox import Outbox


async def _close_when_stopped(client: httpx.AsyncClient) -> None:
    try:
        await asyncio.Event().wait()  # until the service cancels its background work
    finally:
        await client.aclose()


def outbox_for(context: ServiceContext, settings: DeliverySettings) -> Outbox:
    client = httpx.AsyncClient(follow_redirects=False)
    context.run_in_background(_close_when_stopped(client), name="delivery-http-client")
    return Outbox(
        context.store,
        channels=Channels(settings, client),
        settings=settings,
        clock=context.clock,
        consumer=context.name,
    )
