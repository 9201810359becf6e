"""`lts intake ...`: import OSV advisories straight into the intake store."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from lts_events.actors import automation
from lts_events.clock import system_clock
from lts_events.contracts.intake import TicketOpened
from lts_events.envelope import Metadata
from lts_events.reach import run_against, running
from lts_events.store.port import ProcessedMessage
from lts_events.store.postgres import PostgresEventStore
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lts_intake import standardize
from lts_intake.config import Settings
from lts_intake.formats import OsvRecord
from lts_intake.handlers import Intake
from lts_intake.repository import PostgresIntakeTables

app = typer.Typer(help="Intake: import advisories into tickets.")
_SUFFIXES = {".json", ".yaml", ".yml"}


@app.callback()
def intake() -> None:
    """Intake: import advisories into tickets."""


def advisory_files(path: Path) -> list[Path]:
    """The path itself, or every .json/.yaml/.yml file below it, sorted."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)


def records_in(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    loaded: Any = (
        json.loads(text) if path.suffix.lower() == ".json" else list(yaml.safe_load_all(text))
    )
    if isinstance(loaded, dict):
        loaded = [loaded]
    for item in loaded:
        if isinstance(item, list):
            yield from (i for i in item if isinstance(i, dict))
        elif isinstance(item, dict):
            yield item


async def import_osv_path(path: Path, *, database_url: str, schema: str = "intake") -> Counter[str]:
    store = await PostgresEventStore.connect(database_url, schema=schema)
    try:
        tables = PostgresIntakeTables(store)
        await tables.create_tables()
        settings = Settings()
        intake = Intake(store=store, tables=tables, clock=system_clock, policy=settings.policy())
        metadata = Metadata(actor=automation("intake"), reason=f"lts intake import-osv {path}")
        files = advisory_files(path)
        counts: Counter[str] = Counter()
        with Progress(
            TextColumn("[bold]importing OSV"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[current]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        ) as progress:
            task = progress.add_task("osv", total=len(files), current="")
            for file in files:
                progress.update(task, current=file.name)
                for raw in records_in(file):
                    counts[await _import_one(intake, raw, metadata)] += 1
                progress.advance(task)
        return counts
    finally:
        await store.close()


async def _import_one(intake: Intake, raw: dict[str, Any], metadata: Metadata) -> str:
    try:
        record = OsvRecord.model_validate(raw)
    except ValidationError:
        return "invalid"
    command = standardize.from_osv(record, now=intake.clock(), policy=intake.policy)
    delivery = ProcessedMessage("intake.osv", record.delivery_id())
    outcome = await intake.execute(command, metadata=metadata, processed=delivery)
    if outcome.duplicate_delivery or (outcome.ticket_id is not None and not outcome.events):
        return "unchanged"
    if outcome.ticket_id is None:
        return "ignored"
    return "opened" if isinstance(outcome.events[0], TicketOpened) else "updated"


@app.command("import-osv")
def import_osv(
    path: Annotated[
        Path, typer.Argument(exists=True, help="An OSV .json/.yaml file or a directory of them")
    ],
    database_url: Annotated[
        str | None, typer.Option(envvar="DATABASE_URL", help="PostgreSQL URL")
    ] = None,
    schema: Annotated[str, typer.Option(help="The intake service's schema")] = "intake",
) -> None:
    """Import OSV records (JSON or PyPI advisory-db YAML) as tickets; re-imports change nothing."""
    url = database_url or running("postgres")
    counts = run_against(
        lambda: import_osv_path(path, database_url=url, schema=schema),
        component="PostgreSQL",
        address=url,
    )
    typer.echo(json.dumps(dict(sorted(counts.items()))))
