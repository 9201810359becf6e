"""comms_render: documents/s rendered (a seed template through its checked Jinja2 environment,
then the HTML and plain-text renderings), every kind in turn, against jinja2 and markdown-it
alone (the same template source in a default environment, then HTML only), in the same run.

comms_deliver: deliveries/s of mail through the comms outbox to the local SMTP server (plan,
durable timer, attempt stored before sending, aiosmtplib send, outcome stored with the timer
fired), against aiosmtplib alone sending the same messages to the same server, in the same run.
Both send one message per SMTP connection, one after the other, as the outbox's timer loop
does."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import aiosmtplib
import httpx
import jinja2
from lts_comms.delivery.channels import Channels
from lts_comms.delivery.channels.email import mail_message
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.domain import delivery_id, idempotency_key
from lts_comms.delivery.outbox import Outbox
from lts_comms.examples import example_context
from lts_comms.render import renderings
from lts_comms.templates import SEED_DIR, TEMPLATE_NAMES, load_templates
from lts_devtools.infra import ensure_infrastructure
from lts_events.actors import automation
from lts_events.clock import system_clock
from lts_events.consumer import Inbound
from lts_events.contracts.comms.delivery import Channel, DeliveryTarget
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentKind,
    DocumentReleased,
    Renderings,
    document_stream,
)
from lts_events.envelope import Envelope, Metadata, NewEvent
from lts_events.store.port import ANY
from lts_events.store.postgres import PostgresEventStore
from lts_events.timers import TimerLoop
from markdown_it import MarkdownIt
from sqlalchemy import text

DELIVERIES = 300
ROUNDS = 3
DOCUMENTS = 2000


def _time_render() -> tuple[float, float]:
    """(ours, baseline) documents/s over DOCUMENTS renderings, every kind in turn."""
    templates = load_templates()
    kinds = list(DocumentKind)
    contexts = {kind: example_context(kind) for kind in kinds}
    plain_env = jinja2.Environment(loader=jinja2.FileSystemLoader(SEED_DIR))
    plain = {kind: plain_env.get_template(TEMPLATE_NAMES[kind]) for kind in kinds}
    markdown = MarkdownIt("commonmark")
    started = time.perf_counter()
    for i in range(DOCUMENTS):
        kind = kinds[i % len(kinds)]
        renderings(templates.render(kind, contexts[kind]))
    ours = DOCUMENTS / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(DOCUMENTS):
        kind = kinds[i % len(kinds)]
        markdown.render(plain[kind].render(**dict(contexts[kind])))
    return ours, DOCUMENTS / (time.perf_counter() - started)


def _released(document_id: str) -> DocumentReleased:
    body = (
        "Upgrade: pip install 'lts-flow==1.4.3'\n" + "- fixed a regression in the LTS line\n" * 20
    )
    return DocumentReleased(
        document_id=document_id,
        kind=DocumentKind.RELEASE_NOTE,
        revision=1,
        audience=Audience.EXTERNAL,
        title="lts-flow 1.4.3 released",
        renderings=Renderings(markdown=body, html=f"<pre>{body}</pre>", text=body),
        released_by="bench",
        released_at=datetime.now(UTC),
    )


def _inbound(released: DocumentReleased) -> Inbound[DocumentReleased]:
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="lts-flow/bench",
        type=released.type,
        subject=document_stream(released.document_id),
        time=released.released_at,
        data=released.to_data(),
        actorid="lts-bench",
        actorrole=automation("bench").role,
    )
    return Inbound(envelope, released, "bench", "lts.comms.events", 0, 0)


async def _time_outbox(store: PostgresEventStore, settings: DeliverySettings, run: str) -> float:
    released = _released(f"bench-{run}")
    metadata = Metadata.trusted(actor=automation("bench"))
    await store.append(
        document_stream(released.document_id),
        [NewEvent.of(released, metadata)],
        expected_version=ANY,
    )
    async with httpx.AsyncClient() as client:
        outbox = Outbox(
            store,
            channels=Channels(settings, client),
            settings=settings,
            clock=system_clock,
            consumer="bench",
        )
        loop = TimerLoop(store, handler=outbox.on_timer, clock=system_clock)
        started = time.perf_counter()
        await outbox.on_document_released(_inbound(released))
        while await loop.tick():
            pass
        elapsed = time.perf_counter() - started
    if loop.fired != DELIVERIES:
        raise RuntimeError(f"the outbox fired {loop.fired} of {DELIVERIES} deliveries")
    return elapsed


async def _time_plain(settings: DeliverySettings, run: str) -> float:
    released = _released(f"bench-plain-{run}")
    messages = []
    for address in settings.mail_lists[DocumentKind.RELEASE_NOTE]:
        target = DeliveryTarget(
            channel=Channel.EMAIL, recipient=address, audience=Audience.EXTERNAL
        )
        key = idempotency_key(delivery_id(released.document_id, 1, target), mail_domain="bench")
        messages.append(
            mail_message(released, sender=settings.mail_from, recipient=address, message_id=key)
        )
    started = time.perf_counter()
    for message in messages:
        await aiosmtplib.send(message, hostname=settings.smtp_host, port=settings.smtp_port)
    return time.perf_counter() - started


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    """ROUNDS alternating rounds of each side; the best round of each counts."""
    smtp = ensure_infrastructure(keep=False).smtp
    assert smtp is not None
    run = uuid.uuid4().hex[:8]
    settings = DeliverySettings(
        smtp_host=smtp[0],
        smtp_port=smtp[1],
        mail_lists={
            DocumentKind.RELEASE_NOTE: tuple(
                f"bench-{run}-{i}@example.org" for i in range(DELIVERIES)
            )
        },
    )
    store = await PostgresEventStore.connect(database_url, schema=f"bench_comms_{run}")
    ours: list[float] = []
    baseline: list[float] = []
    try:
        for i in range(ROUNDS):
            ours.append(DELIVERIES / await _time_outbox(store, settings, f"{run}-{i}"))
            baseline.append(DELIVERIES / await _time_plain(settings, f"{run}-{i}"))
    finally:
        async with store.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE'))
        await store.close()
    best, best_baseline = max(ours), max(baseline)
    renders = [_time_render() for _ in range(ROUNDS)]
    render_ours, render_baseline = max(r[0] for r in renders), max(r[1] for r in renders)
    return [
        {
            "bench": "comms_render",
            "ours": round(render_ours, 1),
            "baseline": round(render_baseline, 1),
            "ratio": round(render_ours / render_baseline, 3),
            "unit": "documents/s",
            "documents": DOCUMENTS,
            "rounds": ROUNDS,
            "what": "every kind's seed template through the checked StrictUndefined environment, "
            "then markdown-it HTML and the plain text (lts_comms.render) vs jinja2 (default "
            "environment, same template source) and markdown-it HTML alone",
        },
        {
            "bench": "comms_deliver",
            "ours": round(best, 1),
            "baseline": round(best_baseline, 1),
            "ratio": round(best / best_baseline, 3),
            "unit": "deliveries/s",
            "deliveries": DELIVERIES,
            "target_ratio": 0.5,
            "rounds": ROUNDS,
            "ours_rounds": [round(r, 1) for r in ours],
            "baseline_rounds": [round(r, 1) for r in baseline],
            "what": "mail to the local aiosmtpd through the outbox (plan + timers, attempt "
            "stored before the send, outcome stored with the timer fired) vs aiosmtplib.send "
            "of the same messages, one connection per message, sequential",
        },
    ]


if __name__ == "__main__":
    import json
    import os

    results = asyncio.run(
        main(
            kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            database_url=os.environ["DATABASE_URL"],
        )
    )
    for result in results:
        print(json.dumps(result))
