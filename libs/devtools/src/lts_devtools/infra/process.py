"""The one way the local launchers run a server (Kafka, the package index, the SMTP server):
detached from the caller so that it outlives it, output to a log file, its pid and settings in
its state file, and ready only when it answers; stopped by pid, checked against its command line
so that a recycled pid of another program is never signalled."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lts_devtools.infra.net import wait_until
from lts_events.infra import state
from lts_events.infra.state import State


class LaunchFailed(RuntimeError):
    """The server exited before it answered."""


def launch(
    component: str,
    command: Sequence[str],
    *,
    log: Path,
    settings: State,
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    interval: float,
) -> State:
    """Start `command` in a session of its own (it keeps running after the caller exits),
    record `{pid, log, **settings}` as `component`'s state, then wait until `ready()`.
    Raises `LaunchFailed` when it exits first, `TimeoutError` when it does not answer in time."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(command),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    recorded = {"pid": process.pid, **settings, "log": str(log)}
    state.save(component, recorded)

    def answered() -> bool:
        if process.poll() is not None:
            raise LaunchFailed(f"{what} exited with {process.returncode}; see {log}")
        return ready()

    wait_until(answered, timeout=timeout, interval=interval, what=what)
    return recorded


def terminate(pid: int, *, marker: str, timeout: float, interval: float = 0.1) -> bool:
    """SIGTERM the process `pid` if it still runs `marker`, SIGKILL it after `timeout` seconds,
    reap it when it is our child. True when it was running."""
    if not state.pid_alive(pid, marker=marker):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and state.pid_alive(pid):
        time.sleep(interval)
    if state.pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return True


def stop_recorded(component: str, *, marker: str, timeout: float) -> bool:
    """Stop the process recorded as `component`'s state and mark it stopped (its settings, such
    as the port and password, stay for the next start). True when something was stopped."""
    recorded = state.load(component)
    if recorded is None:
        return False
    stopped = terminate(int(recorded["pid"]), marker=marker, timeout=timeout)
    state.save(component, {**recorded, "pid": -1})
    return stopped
