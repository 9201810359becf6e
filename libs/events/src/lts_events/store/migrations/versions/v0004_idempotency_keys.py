"""`Idempotency-Key` answers (lts_events.idempotency): a POST retried with the same key gets
the first answer again instead of being carried out twice.

Not events: a row is reserved before the request runs and completed with its answer after, and
rows older than the retention are deleted, so this table is outside the append-only triggers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CREATE = """
CREATE TABLE IF NOT EXISTS "{s}".idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    status       smallint,
    headers      jsonb,
    body         bytea,
    PRIMARY KEY (scope, key)
)
"""


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    if schema is None:
        raise RuntimeError("the event store migrations need a schema (version_table_schema)")
    op.execute(_CREATE.format(s=schema))
    op.execute(
        "CREATE INDEX IF NOT EXISTS idempotency_keys_created_at "
        f'ON "{schema}".idempotency_keys (created_at)'
    )


def downgrade() -> None:
    raise NotImplementedError("the event store is append-only: migrations only go forward")
