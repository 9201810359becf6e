"""The record of what `lts infra up` started, so `down` can stop it and a second `up` reuses it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lts_events.infra.paths import run_dir

State = dict[str, Any]


def _state_file(component: str) -> Path:
    return run_dir() / f"{component}.json"


def load(component: str) -> State | None:
    try:
        loaded = json.loads(_state_file(component).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return loaded if isinstance(loaded, dict) else None


def save(component: str, state: State) -> None:
    path = _state_file(component)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def forget(component: str) -> None:
    _state_file(component).unlink(missing_ok=True)


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise `up`/`down` across processes (several test sessions may start at once)."""
    directory = run_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pid_alive(pid: int, *, marker: str | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, given `marker`, its command line contains it."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_a_zombie(pid) and (marker is None or marker in _cmdline(pid))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _not_a_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
