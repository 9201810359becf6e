"""`lts comms ...`: what the comms service delivered, and what arrived in the local maildir."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from lts_events.clock import system_clock
from lts_events.contracts.comms.documents import DocumentKind, Renderings
from lts_events.event import Event
from lts_events.infra import paths
from lts_events.reach import run_against, running
from lts_events.store.port import Checkpoint
from lts_events.store.postgres import PostgresEventStore

from lts_comms.config import Settings
from lts_comms.contexts import AdvisoryContext
from lts_comms.delivery.catalog import DELIVERY_EVENTS
from lts_comms.delivery.config import DeliverySettings
from lts_comms.delivery.report import delivery_rows, maildir_rows
from lts_comms.document import DraftContent
from lts_comms.drafting import Drafter
from lts_comms.examples import AT, example_context
from lts_comms.handlers import CommsHandlers
from lts_comms.osv import osv_record
from lts_comms.render import renderings
from lts_comms.templates import load_templates

app = typer.Typer(help="Comms: documents and their delivery.", no_args_is_help=True)


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


@app.command()
def preview(
    kind: Annotated[DocumentKind, typer.Argument(help="The document kind")],
    release: Annotated[str | None, typer.Option(help="The release's version, e.g. 1.4.3")] = None,
    ticket: Annotated[int | None, typer.Option(help="The security ticket (advisories)")] = None,
    form: Annotated[str, typer.Option(help="markdown, html, text or osv")] = "markdown",
    schema: Schema = "comms",
) -> None:
    """Render a document from the comms service's facts without sending or storing anything;
    without --release and --ticket, from the template's example context. Templates come from
    LTS_COMMS_TEMPLATE_DIR when set, so an edited template can be tried before it is deployed."""
    settings = Settings()
    drafter = Drafter(load_templates(settings.template_dir), settings.links())
    if release is None and ticket is None:
        context = example_context(kind)
        markdown = drafter.templates.render(kind, context)
        osv = (
            osv_record(context, details=markdown, modified=AT, published=AT)
            if isinstance(context, AdvisoryContext)
            else None
        )
        typer.echo(_form(renderings(markdown), osv, form), nl=False)
        return
    url = running("postgres")
    try:
        drafts = run_against(
            lambda: _previews(url, schema, drafter, kind, release, ticket),
            component="PostgreSQL",
            address=url,
        )
    except (LookupError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    if not drafts:
        raise typer.BadParameter(f"no {kind.value} for these facts", param_hint="--release")
    for draft in drafts:
        typer.echo(f"--- {draft.document_id}: {draft.title}", err=True)
        typer.echo(_form(draft.renderings, draft.osv, form), nl=False)


def _form(rendered: Renderings, osv: dict[str, Any] | None, form: str) -> str:
    if form == "osv":
        if osv is None:
            raise typer.BadParameter("only an advisory has an OSV record", param_hint="--form")
        return json.dumps(osv, indent=2) + "\n"
    if form not in ("markdown", "html", "text"):
        raise typer.BadParameter("markdown, html, text or osv", param_hint="--form")
    text: str = getattr(rendered, form)
    return text


async def _previews(
    database_url: str,
    schema: str,
    drafter: Drafter,
    kind: DocumentKind,
    release: str | None,
    ticket: int | None,
) -> list[DraftContent]:
    store = await PostgresEventStore.connect(database_url, schema=schema, migrate=False)
    try:
        handlers = CommsHandlers(store, clock=system_clock, drafter=drafter)
        return await handlers.preview(kind, version=release, ticket_id=ticket)
    finally:
        await store.close()
