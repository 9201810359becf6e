"""Alembic environment of the event store. It only runs online, on the connection handed over by
`lts_events.store.migrate` (inside its transaction, under its advisory lock), and keeps the
version table in the service's own schema."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
schema: str = context.config.attributes["schema"]

context.configure(
    connection=connection,
    target_metadata=None,
    version_table_schema=schema,
    transactional_ddl=True,
)

with context.begin_transaction():
    context.run_migrations()
