"""`lts release ...`: the release service's commands for CI and release managers."""

from __future__ import annotations

import typer

from lts_release.publication import cli as publication_cli
from lts_release.staging import cli as staging_cli

app = typer.Typer(
    help="Release candidates: upload artifacts, seal, publish, withdraw, verify bundles offline."
)
staging_cli.register(app)
publication_cli.register(app)
