"""`lts comms ...`: what the comms service delivered, and what arrived in the local maildir."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from lts_events.contracts.comms.delivery import (
    DeliveryAttempted,
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
)
from lts_events.event import Event
from lts_events.infra import paths
from lts_events.reach import run_against, running
from lts_events.store.port import Checkpoint
from lts_events.store.postgres import PostgresEventStore

from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.report import delivery_rows, maildir_rows

app = typer.Typer(help="Comms: documents and their delivery.", no_args_is_help=True)

DELIVERY_EVENTS = (DeliveryAttempted, DeliverySucceeded, DeliveryFailed, DeliveryGaveUp)


@app.callback()
def comms() -> None:
    """Comms: documents and their delivery."""


Schema = Annotated[str, typer.Option(help="The comms service's PostgreSQL schema")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.command()
def outbox(schema: Schema = "comms", as_json: AsJson = False) -> None:
    """Every delivery (channel, recipient, attempts, status, the last answer) and every mail
    that arrived in the maildir of the local SMTP server."""
    url = running("postgres")
    events = run_against(lambda: _delivery_events(url, schema), component="PostgreSQL", address=url)
    deliveries = delivery_rows(events)
    mail = maildir_rows(DeliverySettings().maildir or paths.maildir())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "deliveries": [row.as_dict() for row in deliveries],
                    "maildir": [row.as_dict() for row in mail],
                },
                indent=2,
            )
        )
        return
    typer.echo(f"deliveries ({len(deliveries)}):")
    for d in deliveries:
        typer.echo(
            f"  {d.status:<9} {d.channel:<10} {d.recipient:<32} {d.document:<28} "
            f"tries {d.attempts}  {d.detail}"
        )
    typer.echo(f"maildir ({len(mail)}):")
    for m in mail:
        typer.echo(f"  {m.arrived}  {m.to:<32} {m.subject}  {m.message_id}")


async def _delivery_events(database_url: str, schema: str) -> list[Event]:
    store = await PostgresEventStore.connect(database_url, schema=schema, migrate=False)
    events: list[Event] = []
    after = Checkpoint.start()
    try:
        while batch := await store.read_all(after=after, limit=5000):
            events += [r.event for r in batch if isinstance(r.event, DELIVERY_EVENTS)]
            after = Checkpoint(batch[-1].transaction_id, batch[-1].position)
    finally:
        await store.close()
    return events
