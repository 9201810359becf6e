"""`lts intake import-osv PATH` against the real store: a directory of OSV files becomes tickets,
aliases link to the same ticket, and a second import changes nothing."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import pytest
from lts_events.store.postgres import asyncpg_url
from lts_intake.cli import app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from .conftest import FIXTURES

pytestmark = pytest.mark.integration


async def _count_and_drop(database_url: str, schema: str) -> tuple[int, int]:
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as connection:
        events = (
            await connection.execute(text(f'SELECT count(*) FROM "{schema}".events'))
        ).scalar_one()
        tickets = (
            await connection.execute(text(f'SELECT count(*) FROM "{schema}".tickets'))
        ).scalar_one()
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()
    return int(events), int(tickets)


def test_importing_a_directory_twice_opens_each_advisory_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTS_INTAKE_PRODUCT_PACKAGES", "[]")  # the fixtures' packages count
    for name in (
        "PYSEC-2021-66.yaml",
        "PYSEC-0000-CVE-2024-45230.yaml",
        "GHSA-mr95-9rr4-668f.json",
    ):
        shutil.copy(FIXTURES / name, tmp_path / name)
    nested = tmp_path / "more"
    nested.mkdir()
    (nested / "GHSA-g3rq-g295-4j3m.json").write_text(
        '{"id": "GHSA-g3rq-g295-4j3m", "modified": "2024-01-01T00:00:00Z", '
        '"aliases": ["CVE-2020-28493"]}'
    )
    schema = f"intake_cli_{uuid.uuid4().hex[:8]}"
    runner = CliRunner()
    arguments = ["import-osv", str(tmp_path), "--database-url", database_url, "--schema", schema]

    first = runner.invoke(app, arguments)
    second = runner.invoke(app, arguments)

    assert first.exit_code == 0, first.output
    assert first.stdout.strip().splitlines()[-1] == '{"opened": 3, "updated": 1}'
    assert second.stdout.strip().splitlines()[-1] == '{"unchanged": 4}'
    events, tickets = asyncio.run(_count_and_drop(database_url, schema))
    assert tickets == 3
    assert events == 3 + 1  # TicketOpened x3, DuplicateLinked
