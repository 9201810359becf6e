"""`lts`: the command line of LTS Flow. Event schemas, store verification, the dead-letter topic
(`lts dlq`), settings, plus every sub-command that a package registers in the `lts.commands`
entry-point group (`<name> = "lts_<service>.cli:app"`): the services' own commands, and the
developer tooling's (`lts infra`, `lts stack`, `lts dev`, `lts demo`: `lts_devtools`, which a
service image does not install)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer

from lts_events import schemas
from lts_events.dlq.cli import app as dlq_app
from lts_events.reach import run_against, running
from lts_events.settings_cli import settings_app

app = typer.Typer(help="LTS Flow: run the LTS patch process.", no_args_is_help=True)
schemas_app = typer.Typer(help="JSON Schemas of the events.", no_args_is_help=True)
store_app = typer.Typer(help="Event store maintenance.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(store_app, name="store")
app.add_typer(dlq_app, name="dlq")
app.add_typer(settings_app, name="settings")


def _err(message: str) -> None:
    typer.secho(message, err=True, fg="yellow")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path | None, typer.Option(help="Defaults to libs/events/schemas.")] = None,
) -> None:
    """Write every registered event's JSON Schema, plus index.json."""
    written = schemas.export(directory)
    _err(f"{len(written)} files in {written[0].parent}")


@schemas_app.command("check")
def schemas_check(
    directory: Annotated[Path | None, typer.Option(help="Defaults to libs/events/schemas.")] = None,
) -> None:
    """Exit 1, naming the files, when the checked-in schemas differ from the code."""
    drifted = schemas.drifted(directory)
    if drifted:
        _err("schemas drifted (run `lts schemas export`): " + ", ".join(drifted))
        raise typer.Exit(1)
    _err("schemas up to date")


@store_app.command("verify")
def store_verify(
    schema: Annotated[str, typer.Option(help="The service's PostgreSQL schema, e.g. intake.")],
    witness: Annotated[
        str, typer.Option(help="A store holding copies of its anchors (audit log); '' for none.")
    ] = "metrics",
) -> None:
    """Recompute every stream's hash chain and check the latest chain anchors (the store's own
    and a witness's copy); exit 1 when an event does not match its hash or the store lost
    events an anchor pinned."""
    from lts_events.store.anchoring import verify_anchors
    from lts_events.store.postgres import PostgresEventStore

    url = running("postgres")

    async def verify() -> Any:
        store = await PostgresEventStore.connect(url, schema=schema, migrate=False)
        try:
            return await store.verify()
        finally:
            await store.close()

    report = run_against(verify, component="PostgreSQL", address=url)
    typer.echo(
        f"schema {schema}: {report.checked} events in {report.streams} streams, "
        f"{report.breaks} broken"
    )
    anchors = run_against(
        lambda: verify_anchors(url, schema, witness=witness or None),
        component="PostgreSQL",
        address=url,
    )
    for line in anchors.lines():
        typer.secho(line, fg=None if anchors.ok else "red")
    if not report.ok:
        typer.secho(f"first break: {report.first_break}", err=True, fg="red")
    if not (report.ok and anchors.ok):
        raise typer.Exit(1)


@store_app.command("export")
def store_export(
    schema: Annotated[str, typer.Option(help="The service's PostgreSQL schema, e.g. intake.")],
) -> None:
    """Print every event as one JSON line with its hash and hash version, for verifiers outside
    Python (docs/hash-chain.md)."""
    from lts_events.store.postgres import PostgresEventStore

    url = running("postgres")

    async def export() -> None:
        store = await PostgresEventStore.connect(url, schema=schema, migrate=False)
        try:
            async for line in store.export():
                sys.stdout.write(line + "\n")
        finally:
            await store.close()

    run_against(export, component="PostgreSQL", address=url)


def _mount_plugins(target: typer.Typer, reserved: Sequence[str]) -> None:
    for ep in entry_points(group="lts.commands"):
        if ep.name in reserved:
            _err(f"lts: plugin command {ep.name!r} clashes with a built-in command; skipped")
            continue
        try:
            loaded = ep.load()
        except Exception as error:  # a broken plugin must not take the whole CLI down
            _err(f"lts: cannot load command {ep.name!r} ({ep.value}): {error}")
            continue
        if isinstance(loaded, typer.Typer):
            target.add_typer(loaded, name=ep.name)
        elif callable(loaded):
            target.command(ep.name)(loaded)


def main() -> None:
    _mount_plugins(app, reserved=("schemas", "store", "dlq", "settings"))
    app()


if __name__ == "__main__":
    main()
