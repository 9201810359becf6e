"""Transient or permanent: whose fault an error is, decided in one place.

A transient error is the infrastructure's (PostgreSQL or Kafka down, restarting, overloaded, a
lost connection, a serialization failure or deadlock): the same work succeeds once it is back, so
callers wait and retry without limit. Anything else is the work's own and gets a bounded number
of tries (a consumer then dead-letters the message). Classified by exception type and by SQLSTATE,
following the error's cause chain (SQLAlchemy wraps asyncpg, which wraps OSError).

`Outage` is the waiting side: capped exponential backoff with jitter, one log line when an outage
starts and one when it ends (never a traceback for it), and a reason readiness can show."""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that say "try again":
# whole classes, then single codes.
_TRANSIENT_SQLSTATE_CLASSES = frozenset(
    {
        "08",  # connection exception
        "53",  # insufficient resources (too many connections, disk full, out of memory)
        "58",  # system error (I/O error)
    }
)
_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57014",  # query_canceled (statement timeout)
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now ("the database system is starting up")
        "57P05",  # idle_session_timeout
        "25P03",  # idle_in_transaction_session_timeout
    }
)
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EADDRNOTAVAIL,
    }
)
_CHAIN_LIMIT = 10


def is_transient(error: BaseException) -> bool:
    """True when `error`, or an error it was caused by, is the infrastructure's."""
    return any(_transient_itself(link) for link in _chain(error))


def describe(error: BaseException) -> str:
    """A one-line description of the innermost transient cause (or of `error`), for logs and
    readiness: type, SQLSTATE when there is one, message."""
    culprit = next((link for link in _chain(error) if _transient_itself(link)), error)
    sqlstate = _sqlstate(culprit)
    text = str(culprit).strip().splitlines()[0][:200] if str(culprit).strip() else ""
    label = type(culprit).__name__ + (f" [{sqlstate}]" if sqlstate else "")
    return f"{label}: {text}" if text else label


def may_be_transient() -> tuple[type[Exception], ...]:
    """The exception classes under which a transient error can surface (for handlers keyed by
    class, such as an HTTP app's); `is_transient` still decides for each instance."""
    import asyncpg.exceptions
    import sqlalchemy.exc
    from aiokafka import errors as kafka_errors

    return (
        OSError,  # ConnectionError, TimeoutError, socket.gaierror
        asyncpg.exceptions.PostgresError,
        asyncpg.exceptions.InterfaceError,
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        kafka_errors.KafkaError,
    )


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(seen) < _CHAIN_LIMIT:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            # A group is transient only if all of its members are: one real failure among
            # outages must still reach its bounded retries.
            continue
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _transient_itself(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return bool(error.exceptions) and all(is_transient(e) for e in error.exceptions)
    sqlstate = _sqlstate(error)
    if sqlstate is not None:
        return sqlstate in _TRANSIENT_SQLSTATES or sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
        return True
    if isinstance(error, OSError):
        return error.errno in _TRANSIENT_ERRNOS
    return _library_transient(error)


def _sqlstate(error: BaseException) -> str | None:
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return code if isinstance(code, str) and len(code) == 5 else None


def _library_transient(error: BaseException) -> bool:
    """Errors of the drivers that carry no SQLSTATE or errno."""
    import asyncpg.exceptions
    import sqlalchemy.exc
    from aiokafka import errors as kafka_errors

    if isinstance(error, asyncpg.exceptions.InterfaceError):
        return "closed" in str(error)  # "connection is closed", "connection was closed"
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return bool(error.connection_invalidated)
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # the pool had no free connection
        return True
    if isinstance(error, kafka_errors.KafkaError):
        return isinstance(error, kafka_errors.KafkaConnectionError) or bool(error.retriable)
    return False


# -- waiting out an outage -----------------------------------------------------------------------


@dataclass
class Outage:
    """An outage of what `what` names, as seen by one loop (a consumer, the relay, the timers).

    `failed(error)` records a transient failure and returns how long to wait before the next try:
    min(cap, base * 2**n) scaled by a random factor in [0.5, 1] (jitter, so that replicas do not
    retry in step). The first failure of an outage logs one WARNING line; while it lasts, repeats
    are counted, not logged; `recovered()` logs one INFO line with the duration and the count."""

    what: str
    logger: logging.Logger
    base_delay: float = 0.1
    max_delay: float = 5.0
    started: float | None = None
    failures: int = 0
    reason: str | None = None
    _random: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def ongoing(self) -> bool:
        return self.started is not None

    def failed(self, error: BaseException) -> float:
        self.reason = describe(error)
        if self.started is None:
            self.started = time.monotonic()
            self.failures = 0
            self.logger.warning(
                "%s unavailable; waiting for it", self.what, extra={"error": self.reason}
            )
        delay: float = min(self.max_delay, self.base_delay * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return delay * self._random.uniform(0.5, 1.0)

    def recovered(self) -> None:
        if self.started is None:
            return
        self.logger.info(
            "%s available again",
            self.what,
            extra={
                "outage_seconds": round(time.monotonic() - self.started, 3),
                "retries": self.failures,
            },
        )
        self.started, self.reason, self.failures = None, None, 0

    async def wait_out(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`'s result, calling again after each transient error (waiting as `failed`
        says); any other error propagates at once."""
        while True:
            try:
                result = await call()
            except Exception as error:
                if not is_transient(error):
                    raise
                await asyncio.sleep(self.failed(error))
            else:
                self.recovered()
                return result

    def status(self) -> str | None:
        """Why the loop is waiting, for readiness; None when it is not."""
        if self.started is None:
            return None
        return f"{self.what} unavailable for {time.monotonic() - self.started:.0f} s: {self.reason}"
