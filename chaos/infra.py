"""The chaos run's own Kafka broker and PostgreSQL server, never the shared ones: started with
the local infrastructure's code (`lts_devtools.infra.local_kafka` / `local_postgres`) under a
temporary `LTS_HOME`, so they can be SIGKILLed and restarted without touching anyone else's tests.
Its own SMTP server and package index too (`local_smtp`, `local_pypi`), so that every mail comms
sent and every file release uploaded during the run is there to be counted.

PostgreSQL runs durable (`local_postgres.DURABLE`: fsync, synchronous commit, full-page writes):
the unsafe fast mode is never inherited from the caller's environment, and every start is
checked."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from lts_devtools.infra import local_kafka, local_postgres, local_pypi, local_smtp
from lts_devtools.infra.local_pypi import PackageIndex
from lts_devtools.infra.net import port_free, wait_until
from lts_events.infra import state
from lts_events.infra.paths import KAFKA_VERSION, kafka_libs_dir, maildir

RESTART_TIMEOUT = 120.0


class ChaosInfraError(RuntimeError):
    """The chaos run's own broker or server could not be started or restarted, or is not durable."""


def _use_private_home(home: Path) -> None:
    """Point `LTS_HOME` at `home` for this process (the chaos run owns it), sharing the cached
    Kafka jars instead of fetching them again."""
    jars = local_kafka.fetch_jars().parent  # in the current LTS_HOME, fetched once
    os.environ["LTS_HOME"] = str(home)
    os.environ.pop(local_postgres.UNSAFE_FAST_VARIABLE, None)
    (home / f"kafka-{KAFKA_VERSION}").symlink_to(jars, target_is_directory=True)
    if not kafka_libs_dir().exists():
        raise ChaosInfraError(f"the Kafka jars are not where {home} points to")


async def _durability(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:
        return {name: str(await conn.fetchval(f"SHOW {name}")) for name in local_postgres.DURABLE}
    finally:
        await conn.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _sigkill(pid: int) -> None:
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, number: signal.Signals) -> None:
    if pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)


def _gone(pid: int) -> bool:
    """True once no process (not even a zombie) has this pid: PostgreSQL refuses to start while
    the pid in its lock file still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@dataclass
class ChaosInfrastructure:
    home: Path
    kafka_bootstrap_servers: str = ""
    server_url: str = ""
    smtp: tuple[str, int] = ("", 0)
    package_index: PackageIndex = field(default_factory=lambda: PackageIndex(""))

    @property
    def maildir(self) -> Path:
        """Where the SMTP server keeps every message it accepted."""
        return maildir()

    @property
    def packages(self) -> Path:
        """Where the package index keeps every file uploaded to it."""
        return local_pypi.packages_dir()

    @classmethod
    def start(cls) -> ChaosInfrastructure:
        home = Path(tempfile.mkdtemp(prefix="lts-chaos-"))
        _use_private_home(home)
        infra = cls(home)
        try:
            infra.kafka_bootstrap_servers = local_kafka.start(timeout=RESTART_TIMEOUT)
            infra.server_url = local_postgres.start(timeout=RESTART_TIMEOUT)
            infra.check_durable()
            infra.smtp = local_smtp.start()
            infra.package_index = local_pypi.start()
        except BaseException:
            infra.stop()  # what did start must not outlive a failed start
            raise
        return infra

    def check_durable(self) -> None:
        """Raise unless the server runs with every durability setting on."""
        found = asyncio.run(_durability(self.server_url))
        if found != local_postgres.DURABLE:
            raise ChaosInfraError(f"PostgreSQL is not durable: {found}")

    def kill_kafka(self) -> None:
        pid = int((state.load(local_kafka.COMPONENT) or {}).get("pid", -1))
        _sigkill(pid)
        if pid > 0:
            os.waitpid(pid, 0)  # our child (started by local_kafka.start in this process)

    def restart_kafka(self) -> None:
        recorded = state.load(local_kafka.COMPONENT) or {}
        ports = (int(recorded["broker_port"]), int(recorded["controller_port"]))
        # Its data is kept only on the same ports: wait until the killed broker's are free.
        wait_until(lambda: all(map(port_free, ports)), timeout=60.0, what="Kafka's old ports")
        bootstrap = local_kafka.start(timeout=RESTART_TIMEOUT)
        if bootstrap != self.kafka_bootstrap_servers:
            raise ChaosInfraError(f"Kafka came back on {bootstrap}, not on the same port")

    def kill_postgres(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a crash of the server."""
        pid = int((state.load(local_postgres.COMPONENT) or {}).get("pid", -1))
        if pid <= 0:
            return
        killed = [pid, *_children(pid)]
        for each in killed:
            _sigkill(each)
        wait_until(lambda: all(map(_gone, killed)), timeout=60.0, what="PostgreSQL's end")

    def restart_postgres(self) -> None:
        recorded = state.load(local_postgres.COMPONENT) or {}
        port = int(recorded["port"])
        wait_until(lambda: port_free(port), timeout=60.0, what="PostgreSQL's old port")
        url = local_postgres.start(timeout=RESTART_TIMEOUT)  # crash recovery runs here
        if url != self.server_url:
            raise ChaosInfraError(f"PostgreSQL came back on {url}, not on the same port")
        self.check_durable()

    def signal_kafka(self, number: signal.Signals) -> None:
        _signal(int((state.load(local_kafka.COMPONENT) or {}).get("pid", -1)), number)

    def signal_postgres(self, number: signal.Signals) -> None:
        """`number` to the postmaster and every backend: SIGSTOP freezes the whole server."""
        pid = int((state.load(local_postgres.COMPONENT) or {}).get("pid", -1))
        if pid > 0:
            for each in (pid, *_children(pid)):
                _signal(each, number)

    def stop(self) -> None:
        local_kafka.stop()
        local_postgres.stop()
        local_smtp.stop()
        local_pypi.stop()
