"""A database of its own for one run, on a PostgreSQL server others may share: created empty,
dropped with everything in it (and the run's analyst role) at the end."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.engine import make_url


def _execute(server_url: str, *statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def analyst_role(database: str) -> str:
    """The metrics service's analyst role for a run (roles are server-wide, databases are not)."""
    return f"lts_analyst_{database}"


def create_database(server_url: str, database: str) -> str:
    """Create `database` on the server and return its URL."""
    _execute(server_url, f'CREATE DATABASE "{database}"')
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def drop_database(server_url: str, database: str) -> None:
    _execute(
        server_url,
        f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
        f'DROP ROLE IF EXISTS "{analyst_role(database)}"',
    )
