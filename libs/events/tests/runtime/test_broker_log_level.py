"""FastStream writes "Received" and "Processed" for every message it hands to a subscriber,
through the service's broker logger. At INFO they were a log record per message, made only to be
filtered out by the handler (`LibraryInfoFilter`); the service's broker writes them at DEBUG, so at
INFO the logger drops them before any record is made, and at DEBUG they are still there."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from lts_events.kafka import ensure_topics
from lts_events.service import build_broker
from lts_events.settings import RuntimeSettings
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.integration


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize(("service_level", "made"), [("INFO", False), ("DEBUG", True)])
async def test_the_brokers_per_message_lines_are_made_only_at_debug(
    kafka: str, service_level: str, made: bool
) -> None:
    topic = f"log-level-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic])
    broker = build_broker(
        "log-level-test", RuntimeSettings(kafka_bootstrap_servers=kafka), CollectorRegistry()
    )
    broker_logger = logging.getLogger("lts.log-level-test.faststream")
    kept = _Kept()
    broker_logger.addHandler(kept)
    broker_logger.setLevel(service_level)
    handled = asyncio.Event()

    @broker.subscriber(topic, auto_offset_reset="earliest")
    async def handle(body: str) -> None:
        handled.set()

    try:
        async with broker:
            await broker.start()
            await broker.publish("hello", topic)
            await asyncio.wait_for(handled.wait(), 30)
    finally:
        broker_logger.removeHandler(kept)
        broker_logger.setLevel(logging.NOTSET)
    assert ("Received" in kept.messages) is made
