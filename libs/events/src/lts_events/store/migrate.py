"""Schema migrations of the event store, run programmatically when a service connects.

Every service owns one PostgreSQL schema; Alembic keeps its version table there. Concurrent
processes starting together (several replicas, tests) are serialised by a transaction-scoped
advisory lock keyed by the schema name, so exactly one of them creates the tables."""

from __future__ import annotations

import re

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT_LOCATION = "lts_events.store:migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class InvalidSchemaName(ValueError):
    """A schema name must be a plain lower-case identifier (it is spliced into SQL)."""


def checked_schema(schema: str) -> str:
    if not _SCHEMA_NAME.fullmatch(schema) or schema.startswith("pg_"):
        raise InvalidSchemaName(
            f"schema {schema!r} is not a plain lower-case PostgreSQL identifier"
        )
    return schema


async def migrate(engine: AsyncEngine, *, schema: str, revision: str = "head") -> None:
    """Bring `schema` to `revision` (the newest unless told), creating it if needed."""
    checked_schema(schema)
    async with engine.connect() as connection:
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"lts_events.migrate:{schema}"},
        )
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_upgrade, schema, revision)
        await connection.commit()


def newest_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("the event store has no migrations")
    return head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def _upgrade(connection: Connection, schema: str, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)
