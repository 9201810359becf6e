"""Read models of the delivery side, caught up from the comms store's own log on each request
(`store_log.py`; released documents and their deliveries are few, the store is comms' own), kept
per process: what was released to the external audience (the feeds, the OSV export; the latest
released revision of each document counts), and every delivery event (`GET /deliveries`)."""

from __future__ import annotations

from lts_events.contracts.comms.delivery import (
    DeliveryAttempted,
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
)
from lts_events.contracts.comms.documents import Audience, DocumentReleased
from lts_events.event import Event
from lts_events.store.port import EventStore

from lts_comms.store_log import StoreLog

DELIVERY_EVENTS = (DeliveryAttempted, DeliverySucceeded, DeliveryFailed, DeliveryGaveUp)


class ReleasedCatalog:
    def __init__(self, store: EventStore) -> None:
        self._log = StoreLog(store)
        self._latest: dict[str, DocumentReleased] = {}

    async def external(self) -> list[DocumentReleased]:
        """The latest externally released revision of every document, newest first."""
        async with self._log.caught_up() as new:
            for recorded in new:
                event = recorded.event
                if isinstance(event, DocumentReleased) and event.audience is Audience.EXTERNAL:
                    known = self._latest.get(event.document_id)
                    if known is None or known.revision <= event.revision:
                        self._latest[event.document_id] = event
            latest = list(self._latest.values())
        return sorted(latest, key=lambda d: (d.released_at, d.document_id), reverse=True)


class DeliveryLog:
    """Every delivery event, caught up from the store's own log on each request (for
    `GET /deliveries`): where each document went, and how it went."""

    def __init__(self, store: EventStore) -> None:
        self._log = StoreLog(store)
        self._events: list[Event] = []

    async def events(self) -> list[Event]:
        async with self._log.caught_up() as new:
            self._events += [r.event for r in new if isinstance(r.event, DELIVERY_EVENTS)]
            return list(self._events)
