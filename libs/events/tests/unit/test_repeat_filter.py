"""Library warnings during an outage: one line, then a count, not a flood."""

from __future__ import annotations

import logging

from lts_events.logging import RepeatFilter


def _record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("broker:9092",), None)


def test_repeats_of_a_library_error_within_the_window_are_counted_not_written() -> None:
    now = [0.0]
    flood = RepeatFilter(window=30, clock=lambda: now[0])

    passed = []
    for second in range(0, 60):
        now[0] = second / 2  # 120 records over 30 s... then past the window
        record = _record("aiokafka.conn", "Unable connect to %s")
        if flood.filter(record):
            passed.append(record)
    now[0] = 31.0
    after = _record("aiokafka.conn", "Unable connect to %s")

    assert len(passed) == 1
    assert flood.filter(after)
    assert after.suppressed_repeats == 59  # type: ignore[attr-defined]


def test_distinct_messages_info_lines_and_our_own_loggers_always_pass() -> None:
    flood = RepeatFilter(window=30, clock=lambda: 0.0)

    assert flood.filter(_record("aiokafka.conn", "Unable connect to %s"))
    assert flood.filter(_record("aiokafka.conn", "Connection reset by %s"))
    assert flood.filter(_record("aiokafka.consumer", "Heartbeat %s", logging.INFO))
    assert flood.filter(_record("aiokafka.consumer", "Heartbeat %s", logging.INFO))
    assert flood.filter(_record("lts_events.consumer", "message sent to the DLQ %s"))
    assert flood.filter(_record("lts_events.consumer", "message sent to the DLQ %s"))
    assert not flood.filter(_record("aiokafka.conn", "Unable connect to %s"))


def test_a_library_s_traceback_of_an_outage_is_reduced_to_one_line() -> None:
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    except ConnectionRefusedError:
        import sys

        outage = _record("asyncpg.pool", "Failed to restore the pool connection floor")
        outage.exc_info = sys.exc_info()
        bug = _record("asyncpg.pool", "something else broke")
        bug.exc_info = (ValueError, ValueError("a bug"), None)

    assert RepeatFilter().filter(outage)
    assert RepeatFilter().filter(bug)
    assert outage.exc_info is None
    assert (
        outage.error
        == "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)"
    )  # type: ignore[attr-defined]
    assert bug.exc_info is not None
