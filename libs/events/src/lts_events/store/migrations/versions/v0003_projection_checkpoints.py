"""Every store gets the checkpoints of its projections (`lts_events.projection`): one row per
projection name, saved in the transaction that applies the projection's batch.

Intake and metrics created the same table themselves before (without or with `updated_at`):
IF NOT EXISTS keeps theirs and their rows, so no projection starts over.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_CREATE = """
CREATE TABLE IF NOT EXISTS "{s}".projection_checkpoints (
    name            text   PRIMARY KEY,
    transaction_id  bigint NOT NULL,
    position        bigint NOT NULL
)
"""


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    if schema is None:
        raise RuntimeError("the event store migrations need a schema (version_table_schema)")
    op.execute(_CREATE.format(s=schema))


def downgrade() -> None:
    raise NotImplementedError("the event store is append-only: migrations only go forward")
