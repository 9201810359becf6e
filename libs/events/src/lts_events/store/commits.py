"""The commits of events a store made in this process, counted, for a reader of the whole store
(the relay) to wait on instead of waiting out its poll interval. Only this process's commits are
seen: another replica's still need the poll."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg


class Commits:
    """A count of commits of events and a wait for the next one. A reader notes `count` before
    it reads, and after a read that found nothing waits with `wait(after=count)` (under its
    poll interval as timeout): a commit made while it read then ends the wait at once (no
    wake-up lost between the read and the wait)."""

    def __init__(self) -> None:
        self.count = 0
        # Futures of the running loop, made per wait: an `asyncio.Event` binds to the first loop
        # that waits on it, and a store may outlive a test's loop.
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        """Events committed (call it only after COMMIT: a reader woken before finds nothing,
        since the store's barrier hides uncommitted events, and then waits a whole poll)."""
        self.count += 1
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, *, after: int) -> None:
        """Return once events were committed after the `after`-th commit (at once if they
        were); bound it with a timeout."""
        if self.count > after:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)


def notify_after_commit(db: asyncpg.Connection, commits: Commits) -> None:
    """Notify `commits` once the transaction `db` is in commits (at once if it is in none): for
    appends written in a transaction the caller owns (`append_within`), whose COMMIT the store
    does not run."""
    if not db.is_in_transaction():
        commits.notify()
        return
    db.add_query_logger(_CommitWatch(db, commits))


class _CommitWatch:
    """An asyncpg query logger (told of each query of the connection after it ran) that waits
    for the end of the connection's transaction, notifies on a COMMIT that succeeded, and
    removes itself. The queries are those asyncpg's `Transaction` sends; a savepoint's release
    is not the commit. A transaction ended otherwise (the connection closed) drops it unseen,
    and the poll finds its events."""

    def __init__(self, db: asyncpg.Connection, commits: Commits) -> None:
        self._db = db
        self._commits = commits

    def __call__(self, query: Any) -> None:
        if query.query not in _ENDS:
            return
        self._db.remove_query_logger(self)
        if query.query == _COMMIT and query.exception is None:
            self._commits.notify()


_COMMIT = "COMMIT;"
_ENDS = frozenset({_COMMIT, "ROLLBACK;"})
