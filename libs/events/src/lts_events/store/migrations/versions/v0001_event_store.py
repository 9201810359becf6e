"""The event store: events, processed messages, checkpoints, timers; append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TABLES = (
    """
CREATE TABLE "{s}".events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version > 0),
    event_id        uuid        NOT NULL,
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    hash            text        NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
)
""",
    'CREATE INDEX events_transaction_position_idx ON "{s}".events (transaction_id, position)',
    """
CREATE TABLE "{s}".processed_messages (
    consumer      text        NOT NULL,
    message_id    text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
)
""",
    """
CREATE TABLE "{s}".checkpoints (
    name            text   PRIMARY KEY,
    transaction_id  bigint NOT NULL,
    position        bigint NOT NULL
)
""",
    """
CREATE TABLE "{s}".timers (
    timer_id   text        PRIMARY KEY,
    consumer   text        NOT NULL,
    stream_id  text        NOT NULL,
    due_at     timestamptz NOT NULL,
    kind       text        NOT NULL,
    payload    jsonb       NOT NULL DEFAULT '{{}}',
    fired_at   timestamptz NULL
)
""",
    'CREATE INDEX timers_due_idx ON "{s}".timers (due_at) WHERE fired_at IS NULL',
)

_APPEND_ONLY = """
CREATE FUNCTION "{s}".reject_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the event store is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'append a compensating event instead';
END
$$;
"""

_GUARDS = (
    """
CREATE TRIGGER {table}_reject_update_delete BEFORE UPDATE OR DELETE ON "{s}".{table}
    FOR EACH ROW EXECUTE FUNCTION "{s}".reject_mutation()
""",
    """
CREATE TRIGGER {table}_reject_truncate BEFORE TRUNCATE ON "{s}".{table}
    FOR EACH STATEMENT EXECUTE FUNCTION "{s}".reject_mutation()
""",
)


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    if schema is None:
        raise RuntimeError("the event store migrations need a schema (version_table_schema)")
    for statement in _TABLES:
        op.execute(statement.format(s=schema))
    op.execute(_APPEND_ONLY.format(s=schema))
    for table in ("events", "processed_messages"):
        for guard in _GUARDS:
            op.execute(guard.format(s=schema, table=table))


def downgrade() -> None:
    raise NotImplementedError("the event store is append-only: migrations only go forward")
