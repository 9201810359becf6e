from lts_events.store.port import (
    ANY,
    NO_STREAM,
    AppendResult,
    Checkpoint,
    ConcurrencyError,
    EventStore,
    ExpectedVersion,
    ProcessedMessage,
    StreamHistory,
    Timer,
)

__all__ = [
    "ANY",
    "NO_STREAM",
    "AppendResult",
    "Checkpoint",
    "ConcurrencyError",
    "EventStore",
    "ExpectedVersion",
    "ProcessedMessage",
    "StreamHistory",
    "Timer",
]
