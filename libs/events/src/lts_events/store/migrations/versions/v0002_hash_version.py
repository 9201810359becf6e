"""Events say which canonical JSON their hash covers: `hash_version` (lts_events.hashing).

Every event stored before this revision was hashed over the legacy form (version 1), and so is
any event a process from before it inserts without naming the column: the default stays 1.
Appends name it (2, RFC 8785), so `lts store verify` checks each event with its own version.
Adding a column with a constant default rewrites no row, so the append-only triggers (which
reject UPDATE) are not involved.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ADD = """
ALTER TABLE "{s}".events
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1
    CONSTRAINT events_hash_version_check CHECK (hash_version IN (1, 2))
"""


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    if schema is None:
        raise RuntimeError("the event store migrations need a schema (version_table_schema)")
    op.execute(_ADD.format(s=schema))


def downgrade() -> None:
    raise NotImplementedError("the event store is append-only: migrations only go forward")
