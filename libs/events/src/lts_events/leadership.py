"""Single-active work among a service's replicas: the relay, the timer loop and the projections
run in the one replica that holds the service's PostgreSQL advisory lock.

The lock is a session lock on a dedicated connection, so it is released by PostgreSQL itself
when the holder dies (process killed, connection cut): another replica, retrying every
`retry_interval`, takes over within seconds. A holder that is frozen instead (a VM paused, a
process stopped, a network that drops its packets) keeps the connection open and would keep
the lock for hours, until TCP gave up: so the lock connection is closed by the server once it
has been idle for `idle_timeout` (PostgreSQL's `idle_session_timeout`, 14 and later), which a
live holder never lets happen, since it checks the connection every `check_interval`. The
holder stops its work as soon as a check fails, since by then the lock may have gone to another
replica. The window in which two replicas may both work (at most a check interval plus the
check's timeout) is harmless for what runs here: the relay's records and the timers' effects
are idempotent for their consumers and the store (processed-message records, optimistic
concurrency), only possibly repeated."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from lts_events.faults import Outage, describe, is_transient

log = logging.getLogger(__name__)

LeadWork = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""The work of a leader: runs until the event it is given is set (leadership lost or the
service stopping), then returns."""


def replica_name() -> str:
    """This replica as people find it: host (a pod's name in Kubernetes) and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


# Who holds the advisory lock `key` (PostgreSQL keeps a bigint key as classid = its high 32
# bits, objid = its low 32 bits): the application_name its lock connection gave.
_HOLDER = """
SELECT a.application_name FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
LIMIT 1
"""


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for `name` (PostgreSQL takes a signed bigint)."""
    digest = hashlib.blake2b(f"lts-flow:leader:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership:
    def __init__(
        self,
        database_url: str,
        name: str,
        *,
        check_interval: float = 1.0,
        retry_interval: float = 2.0,
        stop_timeout: float = 10.0,
        replica: str | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self._database_url = database_url
        self.name = name
        self._key = lock_key(name)
        self._check_interval = check_interval
        self._retry_interval = retry_interval
        self._stop_timeout = stop_timeout
        # a live holder's connection is never idle for more than a check interval or so
        self._idle_timeout = 5 * check_interval if idle_timeout is None else idle_timeout
        self.leading = False
        self.terms = 0  # how many times this replica became leader
        self.backend_pid: int | None = None  # the lock connection's server process, when leading
        self.replica = replica or replica_name()
        self.leader: str | None = None  # the replica leading, as last seen (None: nobody)
        self.outage = Outage(f"leadership {name}: the database", log)

    async def run(self, stop: asyncio.Event, work: LeadWork) -> None:
        """Until `stop`: take the lock when free, run `work` while it is held, give it up."""
        while not stop.is_set():
            pause = self._retry_interval
            try:
                await self._term(stop, work)
            except Exception as error:
                if not is_transient(error):
                    raise
                pause = max(pause, self.outage.failed(error))
            await _wait(stop, pause)

    async def _term(self, stop: asyncio.Event, work: LeadWork) -> None:
        """One attempt: connect, try the lock; if taken, lead until stop or the lock is lost."""
        connection = await asyncpg.connect(
            self._database_url,
            server_settings={"application_name": f"lts-{self.name} {self.replica}"[:63]},
        )
        self.outage.recovered()
        try:
            if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key):
                self.leader = _replica_of(await connection.fetchval(_HOLDER, *_oids(self._key)))
                return
            await _close_when_idle(connection, self._idle_timeout)  # only a holder needs it
            self.backend_pid = connection.get_server_pid()
            await self._lead(stop, work, connection)
        finally:
            self.backend_pid = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=2)  # releases the lock

    async def _lead(
        self, stop: asyncio.Event, work: LeadWork, connection: asyncpg.Connection
    ) -> None:
        self.leading, self.terms, self.leader = True, self.terms + 1, self.replica
        log.info("leading: running the single-active work", extra={"leadership": self.name})
        until = asyncio.Event()
        task = asyncio.create_task(work(until), name=f"leader:{self.name}")
        lost: str | None = None
        try:
            while not stop.is_set() and not task.done():
                await _wait(stop, self._check_interval)
                if stop.is_set():
                    break
                try:
                    await asyncio.wait_for(
                        connection.fetchval("SELECT 1"), timeout=self._check_interval * 2
                    )
                except Exception as error:
                    lost = describe(error)
                    # The lock went with the connection and another replica may lead now: say
                    # so at once, not after the work's last round (up to `stop_timeout`).
                    self.leading = False
                    break
        finally:
            until.set()
            done, _ = await asyncio.wait({task}, timeout=self._stop_timeout)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self.leading, self.leader = False, None
        if lost is not None:
            log.warning(
                "leadership lost; work stopped", extra={"leadership": self.name, "error": lost}
            )
        failure = task.exception() if task.done() and not task.cancelled() else None
        if failure is not None:
            log.error("leader's work failed", exc_info=failure, extra={"leadership": self.name})


async def _close_when_idle(connection: asyncpg.Connection, seconds: float) -> None:
    """Have the server close `connection` (and so release its session locks) once it has been
    idle for `seconds`; a server older than PostgreSQL 14 has no such setting and keeps it."""
    if connection.get_server_version().major >= 14:
        await connection.execute(f"SET idle_session_timeout = {max(1, round(seconds * 1000))}")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _oids(key: int) -> tuple[int, int]:
    """The advisory lock's (classid, objid) in pg_locks for a bigint key."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def _replica_of(application_name: str | None) -> str | None:
    """The replica part of a lock connection's application_name (`lts-<name> <replica>`)."""
    if not application_name or " " not in application_name:
        return None
    return application_name.split(" ", 1)[1]
