"""`lts settings table`: the environment variables of every installed part, as markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lts_events.settings_table import markdown, rows, with_table

settings_app = typer.Typer(help="The settings (environment variables).", no_args_is_help=True)


@settings_app.command("table")
def table(
    readme: Annotated[
        Path | None,
        typer.Option(help="Rewrite the generated table in this file instead of printing it."),
    ] = None,
) -> None:
    """Every environment variable, its default, who reads it and what it sets."""
    generated = markdown(rows())
    if readme is None:
        typer.echo(generated)
        return
    try:
        readme.write_text(with_table(readme.read_text(), generated))
    except ValueError as error:
        typer.echo(f"{readme}: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{readme}: settings table written")
