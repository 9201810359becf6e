"""Transient (the infrastructure's, waited out) or permanent (the work's own, bounded retries)."""

from __future__ import annotations

import errno
import logging

import asyncpg.exceptions
import pytest
import sqlalchemy.exc
from aiokafka import errors as kafka_errors
from lts_events.faults import Outage, describe, is_transient


def _wrapped(cause: BaseException) -> BaseException:
    """As SQLAlchemy's asyncpg dialect raises it: the driver error as the cause."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, inner) from inner
    except sqlalchemy.exc.OperationalError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("starting up")),
        _wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "refused")),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        kafka_errors.KafkaConnectionError("no broker"),
        kafka_errors.NodeNotReadyError(),
        kafka_errors.RequestTimedOutError(),
        ExceptionGroup("lanes", [ConnectionResetError(), TimeoutError()]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_the_infrastructure_s_errors_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad payload"),
        KeyError("ticket"),
        FileNotFoundError(errno.ENOENT, "template"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        asyncpg.exceptions.InterfaceError(
            "cannot perform operation: another operation is in progress"
        ),
        _wrapped(asyncpg.exceptions.CheckViolationError("violates check constraint")),
        kafka_errors.MessageSizeTooLargeError(),
        ExceptionGroup("lanes", [ConnectionResetError(), ValueError("one real failure")]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_the_work_s_own_errors_are_not(error: BaseException) -> None:
    assert not is_transient(error)


def test_an_error_raised_from_an_outage_is_transient() -> None:
    error = RuntimeError("append failed")
    error.__cause__ = ConnectionResetError("peer reset")

    assert is_transient(error)
    assert describe(error) == "ConnectionResetError: peer reset"


def test_describe_names_the_sqlstate() -> None:
    error = _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert describe(error) == ("CannotConnectNowError [57P03]: the database system is starting up")


def test_an_outage_logs_when_it_starts_and_when_it_ends_not_in_between(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("the database", logging.getLogger("test.outage"), base_delay=0.1, max_delay=2)
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for _ in range(12):
            outage.failed(ConnectionRefusedError())
        waiting = outage.status()
        outage.recovered()
        outage.recovered()

    assert [r.getMessage() for r in caplog.records] == [
        "the database unavailable; waiting for it",
        "the database available again",
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert caplog.records[1].retries == 12  # type: ignore[attr-defined]
    assert waiting is not None
    assert "ConnectionRefusedError" in waiting
    assert outage.status() is None


def test_an_outage_backs_off_exponentially_with_jitter_up_to_its_cap() -> None:
    outage = Outage("kafka", logging.getLogger("test.outage"), base_delay=0.1, max_delay=2)
    delays = [outage.failed(TimeoutError()) for _ in range(40)]

    for n, delay in enumerate(delays):
        ceiling = min(2, 0.1 * 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[10:]}) > 1  # jittered, not in step
