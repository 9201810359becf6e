"""Keeping the local stack up, as docker-compose.yml's `restart: unless-stopped` and a
Kubernetes Deployment do: a service process that dies is started again on its port, and so is
the local Kafka or PostgreSQL the stack uses, on its port and its data (`restarts.Backoff`
says when).

`lts dev` runs the `Supervisor` in its own loop; `lts stack up` leaves a watchdog process
behind (`python -m lts_devtools.supervision`, its log in `run/stack-watchdog.log`) that
`lts stack down` stops first. Only death counts: a frozen process comes back by itself and
is left alone, and what was stopped on purpose (`lts stack down`, `lts infra down`, which mark
it stopped) stays stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lts_devtools import stack
from lts_devtools.infra import Infrastructure, ensure_infrastructure, local_kafka, local_postgres
from lts_devtools.infra.process import terminate
from lts_devtools.restarts import Backoff, describe_exit
from lts_events.infra import KAFKA_MARKER, POSTGRES_MARKER, kafka_bootstrap, postgres_url, state
from lts_events.infra.paths import run_dir
from lts_events.infra.probes import kafka_ready, postgres_ready

WATCHDOG = "stack-watchdog"
"""The state component that records the watchdog of `lts stack up`."""
WATCHDOG_MARKER = "lts_devtools.supervision"
CHECK_SECONDS = 0.5
INFRA_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class _Local:
    """A local component the stack may use, and how to tell it died and start it again."""

    name: str
    marker: str
    address: Callable[[state.State], str]
    answers: Callable[[str], bool]
    restart: Callable[[], str]


_LOCAL = (
    _Local("kafka", KAFKA_MARKER, kafka_bootstrap, kafka_ready, local_kafka.restart_in_place),
    _Local(
        "postgres",
        POSTGRES_MARKER,
        lambda recorded: postgres_url(int(recorded["port"])),
        postgres_ready,
        local_postgres.restart_in_place,
    ),
)


@dataclass
class _Watched:
    service: stack.RunningService
    process: subprocess.Popen[bytes] | None  # None: not our child (recorded by `stack up`)
    started: float
    deaths: int = 0
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self,
        infra: Infrastructure,
        services: Sequence[tuple[stack.RunningService, subprocess.Popen[bytes] | None]],
        *,
        background: bool,
        say: Callable[[str], None],
        on_start: Callable[[stack.RunningService, subprocess.Popen[bytes]], None] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        """`say` gets one line per death and restart; `on_start` each process started again."""
        now = time.monotonic()
        self._infra = infra
        self._used = {"kafka": infra.kafka_bootstrap_servers, "postgres": infra.database_url}
        self._watched = [_Watched(service, process, now) for service, process in services]
        self._background = background
        self._say = say
        self._on_start = on_start
        self._backoff = backoff or Backoff()
        self._infra_retry_at: dict[str, float] = {}

    def services(self) -> list[stack.RunningService]:
        return [watched.service for watched in self._watched]

    def step(self) -> bool:
        """One look at everything; True when a service was started again (its pid changed)."""
        self._revive_infrastructure()
        restarted = False
        for watched in self._watched:
            now = time.monotonic()
            if watched.restart_at is None and not self._alive(watched):
                self._schedule(watched, now)
            if watched.restart_at is not None and now >= watched.restart_at:
                self._restart(watched)
                restarted = True
        return restarted

    def _alive(self, watched: _Watched) -> bool:
        if watched.process is not None:
            return watched.process.poll() is None  # also reaps it
        service = watched.service
        return state.pid_alive(service.pid, marker=f"lts_{service.name}")

    def _schedule(self, watched: _Watched, now: float) -> None:
        ran_for = now - watched.started
        watched.deaths = self._backoff.deaths_in_a_row(watched.deaths, ran_for)
        delay = self._backoff.delay(watched.deaths)
        watched.restart_at = now + delay
        process = watched.process
        code = process.returncode if process is not None else None
        # a recorded process ran for an unknown time before it was watched
        ran = f" after {ran_for:.0f} s" if process is not None else ""
        when = f" in {delay:.0f} s ({watched.deaths} quick deaths in a row)" if delay else ""
        self._say(f"{watched.service.label} {describe_exit(code)}{ran}; starting it again{when}")

    def _restart(self, watched: _Watched) -> None:
        old = watched.service
        service, process = stack.spawn_one(
            old.name, old.replica, old.port, self._infra, background=self._background
        )
        watched.service, watched.process = service, process
        watched.started, watched.restart_at = time.monotonic(), None
        if self._on_start is not None:
            self._on_start(service, process)
        self._say(f"{service.label} started again: pid {process.pid} on {service.url}")

    def _revive_infrastructure(self) -> None:
        for local in _LOCAL:
            if not self._died(local):
                continue
            if time.monotonic() < self._infra_retry_at.get(local.name, 0.0):
                continue
            self._say(f"{local.name} died; starting it again on its port and its data")
            try:
                with state.locked():  # `lts infra up` may be starting it too
                    if self._died(local):
                        local.restart()
            except Exception as error:
                self._infra_retry_at[local.name] = time.monotonic() + INFRA_RETRY_SECONDS
                retry = f"next try in {INFRA_RETRY_SECONDS:.0f} s"
                self._say(f"{local.name} did not start: {error}; {retry}")
                continue
            self._say(f"{local.name} is back")

    def _died(self, local: _Local) -> bool:
        """The local component this stack uses has a recorded process that is gone (not
        stopped on purpose: a stop records pid -1) and nothing answers at its address (one
        started again by other means, `pg_ctl restart`, is not dead)."""
        recorded = state.load(local.name)
        if recorded is None or int(recorded.get("pid", -1)) <= 0:
            return False
        address = local.address(recorded)
        if address != self._used[local.name]:
            return False
        if state.pid_alive(int(recorded["pid"]), marker=local.marker):
            return False
        return not local.answers(address)


def start_watchdog(infra: Infrastructure) -> int:
    """The background watchdog of the services `lts stack up` recorded (any earlier one is
    stopped first); its pid."""
    stop_watchdog()
    log = (run_dir() / f"{WATCHDOG}.log").open("ab")
    with log:
        process = subprocess.Popen(
            [sys.executable, "-m", WATCHDOG_MARKER],
            env={**os.environ, **infra.env()},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    state.save(WATCHDOG, {"pid": process.pid})
    return process.pid


def stop_watchdog(*, timeout: float = 10.0) -> bool:
    """Stop the watchdog (before the services, or it would start them again)."""
    recorded = state.load(WATCHDOG)
    if recorded is None:
        return False
    stopped = terminate(int(recorded["pid"]), marker=WATCHDOG_MARKER, timeout=timeout)
    state.forget(WATCHDOG)
    return stopped


def _log(line: str) -> None:
    print(f"{datetime.now(UTC).isoformat(timespec='seconds')} {line}", flush=True)


def watch_recorded() -> None:
    """The watchdog's loop: the recorded services (and the infrastructure they use), until
    SIGTERM; each restart is recorded so that `lts stack down` stops the new process."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    infra = ensure_infrastructure(keep=True)  # as `stack up` handed it down in the environment
    watched = [(service, None) for service in stack.recorded()]
    supervisor = Supervisor(infra, watched, background=True, say=_log)
    _log(f"watching {', '.join(s.label for s in supervisor.services())}")
    while not stopping.wait(CHECK_SECONDS):
        if supervisor.step():
            stack.record(supervisor.services())


if __name__ == "__main__":
    watch_recorded()
