"""The service's one timer handler, routing a due timer to the part that scheduled it by its
`kind` (each part prefixes its kinds, e.g. `core.release_sla`, `rollout.phase`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lts_events.store.port import ANY, EventStore, Timer

TimerHandler = Callable[[Timer], Awaitable[None]]


class TimerRoutes:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._routes: dict[str, TimerHandler] = {}

    def on(self, kind: str, handler: TimerHandler) -> TimerRoutes:
        if kind in self._routes:
            raise ValueError(f"timer kind {kind!r} already has a handler")
        self._routes[kind] = handler
        return self

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._routes)

    async def __call__(self, timer: Timer) -> None:
        handler = self._routes.get(timer.kind)
        if handler is None:  # nobody's any more: mark it fired so it is not due forever
            await self._store.append(
                timer.stream_id, [], expected_version=ANY, fired_timer=timer.timer_id
            )
            return
        await handler(timer)
