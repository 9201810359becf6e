"""Events of operators' tools (the `lts` command), stored in the PostgreSQL schema `ops`.

`DeadLetterReplayed` records that `lts dlq replay` sent a dead-lettered message back to its source
topic: its stream (`dead_letter_stream`) is the DLQ message, so the stream's history says whether,
when and by whom it was replayed. The actor (who) and the note (why) are the event's metadata.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from lts_events.event import Event


def dead_letter_stream(dlq_topic: str, partition: int, offset: int) -> str:
    """The stream of one DLQ message: its replays, in order."""
    return f"dead-letter-{dlq_topic}-{partition}-{offset}"


class DeadLetterReplayed(Event):
    type: ClassVar[str] = "lts.ops.dead_letter_replayed"
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    source_topic: str
    source_partition: int | None = Field(
        default=None, description="Where the message was read when it failed"
    )
    source_offset: int | None = None
    consumer: str | None = Field(default=None, description="The consumer group that gave up")
    reason: str = Field(description="Why it was dead-lettered (the `dlq_reason` header)")
    message_id: str | None = Field(
        default=None,
        description="Its CloudEvents id (`ce_id`), kept on replay: consumers that already "
        "processed it skip it",
    )
    replayed_partition: int = Field(description="Where the replay landed on the source topic")
    replayed_offset: int
    forced: bool = Field(
        default=False, description="Replayed again although an earlier replay was recorded"
    )
