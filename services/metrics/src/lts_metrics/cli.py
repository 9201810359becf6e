"""`lts metrics ...`: maintenance of the metrics read models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from lts_events.reach import run_against, running
from lts_events.store.postgres import PostgresEventStore
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text

from lts_metrics.config import MetricsSettings
from lts_metrics.projector import ProjectionEngine
from lts_metrics.report import WeekFigures, html, markdown, week_bounds
from lts_metrics.report_io import week_figures
from lts_metrics.schema import ensure_schema, identifier

app = typer.Typer(
    help="Metrics: rebuild the projections from the audit log; the weekly report.",
    no_args_is_help=True,
)


@app.callback()
def metrics() -> None:
    """Metrics: rebuild the projections from the audit log; the weekly report."""


Schema = Annotated[str, typer.Option(help="The metrics service's PostgreSQL schema")]
Batch = Annotated[int, typer.Option(min=1, help="Events per read from the store")]


Week = Annotated[str, typer.Option(help="ISO week, e.g. 2026-W49")]
Out = Annotated[Path, typer.Option(help="Directory to write the report into")]


@app.command()
def report(week: Week, schema: Schema = "metrics", out: Out = Path(".")) -> None:
    """Write the week's metrics as Markdown and HTML (lts-metrics-<week>.md / .html)."""
    try:
        week_bounds(week)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--week") from None
    url = running("postgres")
    figures = run_against(lambda: _figures(url, schema, week), component="PostgreSQL", address=url)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, document in (("md", markdown(figures)), ("html", html(figures))):
        path = out / f"lts-metrics-{week}.{suffix}"
        path.write_text(document, encoding="utf-8")
        written.append(str(path))
    Console().print("wrote " + ", ".join(written))


async def _figures(database_url: str, schema: str, week: str) -> WeekFigures:
    store = await PostgresEventStore.connect(database_url, schema=schema)
    try:
        return await week_figures(store.engine, schema=identifier(schema), week=week)
    finally:
        await store.close()


@app.command()
def rebuild(schema: Schema = "metrics", batch: Batch = 5000) -> None:
    """Replay the whole metrics store into fresh projections and swap them in (readers see the
    old figures until the short swap commits; the running service keeps projecting meanwhile)."""
    url = running("postgres")
    total = run_against(lambda: _rebuild(url, schema, batch), component="PostgreSQL", address=url)
    Console().print(f"[green]rebuilt the projections from {total} events[/green]")


async def _rebuild(database_url: str, schema: str, batch: int) -> int:
    metrics = MetricsSettings()
    store = await PostgresEventStore.connect(database_url, schema=schema)
    try:
        async with store.engine.begin() as conn:
            await ensure_schema(
                conn,
                schema=schema,
                analyst_role=metrics.analyst_role,
                analyst_password=metrics.analyst_password,
                analyst_statement_timeout=metrics.analyst_statement_timeout_seconds,
            )
            count = (
                await conn.execute(text(f"SELECT count(*) FROM {identifier(schema)}.events"))
            ).scalar_one()
        columns = (
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
        )
        with Progress(*columns) as progress:
            task = progress.add_task("rebuild", total=count)
            engine = ProjectionEngine(store, store.engine, schema=schema)
            return await engine.rebuild(batch=batch, progress=lambda n: progress.advance(task, n))
    finally:
        await store.close()
