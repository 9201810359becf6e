"""Concurrent HTTP requests executed as one batch, as a Kafka batch is: each request hands its
commands to `Coalescer.submit`; one drain loop takes everything waiting (up to `max_works`
commands), runs `Intake.execute_batch` on it once (one claim, one read, one group commit, one
view update) and answers each request with its own outcomes.

No timer: a request that finds nothing in flight starts a batch at once, so a lone request waits
for nothing. Requests that arrive while a batch runs wait for it, then go together in the next:
the batches grow with the load. One drain loop is enough: every batch takes the ticket counter's
lock until it commits, so batches run one at a time in the database anyway."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from lts_events.faults import is_transient

from lts_intake.handlers import Outcome, Work

log = logging.getLogger(__name__)

ExecuteBatch = Callable[[Sequence[Work]], Awaitable[list[Outcome]]]


@dataclass(frozen=True, slots=True)
class _Request:
    works: Sequence[Work]
    answer: asyncio.Future[list[Outcome]]


class Coalescer:
    def __init__(self, execute_batch: ExecuteBatch, *, max_works: int = 500) -> None:
        self._execute_batch = execute_batch
        self._max_works = max_works
        self._waiting: deque[_Request] = deque()
        self._drain: asyncio.Task[None] | None = None

    async def submit(self, works: Sequence[Work]) -> list[Outcome]:
        """The outcome of each of `works` (one request's commands, kept in one batch and in
        order), or the error executing them raised."""
        if not works:
            return []
        request = _Request(works, asyncio.get_running_loop().create_future())
        self._waiting.append(request)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_waiting(), name="intake-coalescer")
        return await request.answer

    async def _drain_waiting(self) -> None:
        while self._waiting:
            await self._run(self._take())

    def _take(self) -> list[_Request]:
        """The waiting requests, oldest first, up to `max_works` commands (at least one
        request); a request whose caller is gone (cancelled) is dropped, nothing of it done."""
        taken: list[_Request] = []
        works = 0
        while self._waiting and (
            not taken or works + len(self._waiting[0].works) <= self._max_works
        ):
            request = self._waiting.popleft()
            if not request.answer.done():
                taken.append(request)
                works += len(request.works)
        return taken

    async def _run(self, requests: Sequence[_Request]) -> None:
        if not requests:
            return
        try:
            outcomes = await self._execute_batch([w for r in requests for w in r.works])
        except asyncio.CancelledError:
            for request in requests:
                request.answer.cancel()
            raise
        except Exception as error:
            if len(requests) == 1 or is_transient(error):
                for request in requests:
                    _fail(request, error)
                return
            # one request's input must not fail the others: each on its own, to its own answer
            log.info("a batch of %d requests failed; one by one", len(requests), exc_info=True)
            for request in requests:
                await self._run([request])
            return
        start = 0
        for request in requests:
            _answer(request, outcomes[start : start + len(request.works)])
            start += len(request.works)


def _answer(request: _Request, outcomes: list[Outcome]) -> None:
    if not request.answer.done():
        request.answer.set_result(outcomes)


def _fail(request: _Request, error: Exception) -> None:
    if not request.answer.done():
        request.answer.set_exception(error)
