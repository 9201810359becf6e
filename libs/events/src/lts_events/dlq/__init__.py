"""The dead-letter topic as operators work with it: `lts dlq list` and `lts dlq replay`.

`messages` reads the DLQ's records and decides (pure) which are selected and which may be
replayed; `table` renders them; `replay` does the I/O (reading the topic to its end, sending back,
recording `DeadLetterReplayed` in the `ops` store); `cli` is the typer sub-app."""
