"""The real stack for end-to-end and chaos runs: intake, triage and metrics (or the services
given) each as its own process (or as several replicas: `triage`, `triage-2`, ...), on free
ports, against the given Kafka and PostgreSQL. A process can be SIGKILLed and started again on
the same port with the same settings, as a supervisor would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lts_devtools.infra import Infrastructure
from lts_devtools.infra.net import free_port
from lts_devtools.stack import http_status, replica_label, service_env

from harness.database import analyst_role

SERVICES = ("intake", "triage", "metrics")
READY_TIMEOUT = 180.0
ROOT = Path(__file__).resolve().parents[1]


class StackFailed(RuntimeError):
    """A service exited while it was starting, or did not become ready in time."""


def _command(name: str, namespace: str | None) -> list[str]:
    if namespace is None:
        return [sys.executable, "-m", f"lts_{name}"]
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from harness import namespace; "
        f"namespace.install({namespace!r}); from lts_{name}.main import main; main()"
    )
    return [sys.executable, "-c", code]


@dataclass
class ServiceProcess:
    """One service: how to start it, and the process while it runs."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    namespace: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                _command(self.name, self.namespace),
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def exit_code(self) -> int | None:
        """None while it runs (or was never started), else how it ended."""
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def send_signal(self, number: signal.Signals) -> None:
        """Send `number` to the process while it runs (SIGSTOP / SIGCONT: frozen and thawed, as
        a VM paused by its host or a process stuck in swap)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(number)

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def ready(self) -> bool:
        return http_status(f"{self.url}/readyz") == 200

    def started(self) -> bool:
        """Whether it has finished starting (uvicorn answers only after the service's start-up,
        which starts its leadership loop among the rest); unlike `ready`, lag does not count."""
        return http_status(f"{self.url}/healthz") == 200

    def leading(self) -> bool:
        """Whether this process runs its service's single-active work (relay, timers,
        projections) now."""
        try:
            with urllib.request.urlopen(f"{self.url}/readyz/details", timeout=2) as answer:
                details = json.load(answer)
        except urllib.error.HTTPError as error:
            details = json.load(error)
        except (OSError, ValueError):
            return False
        return bool(details.get("leader", {}).get("leading"))


@dataclass
class Stack:
    services: dict[str, ServiceProcess]
    database_url: str
    kafka_bootstrap_servers: str
    namespace: str | None = None

    @property
    def urls(self) -> dict[str, str]:
        return {name: service.url for name, service in self.services.items()}

    @property
    def logs(self) -> dict[str, Path]:
        return {name: service.log for name, service in self.services.items()}

    def tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for name, path in self.logs.items()
        )

    def start(self, *, timeout: float = READY_TIMEOUT) -> None:
        """Start every service and wait until each answers `/readyz` with 200."""
        for service in self.services.values():
            service.start()
        self.wait_ready(self.services, timeout=timeout)

    def wait_ready(self, names: Iterable[str], *, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        waiting = set(names)
        while waiting and time.monotonic() < deadline:
            for name in sorted(waiting):
                service = self.services[name]
                if service.exit_code() is not None:
                    raise StackFailed(f"{name} exited early\n{self.tail()}")
                if service.ready():
                    waiting.discard(name)
            time.sleep(0.5)
        if waiting:
            raise StackFailed(f"not ready after {timeout:.0f}s: {sorted(waiting)}\n{self.tail()}")

    def stop(self) -> None:
        for service in self.services.values():
            if service.process is not None and service.process.poll() is None:
                service.process.terminate()
        for service in self.services.values():
            service.stop()


def build_stack(
    *,
    kafka_bootstrap_servers: str,
    database_url: str,
    database: str,
    logs: Path,
    namespace: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    replicas: int = 1,
    services: Sequence[str] = SERVICES,
) -> Stack:
    """The stack's processes, not started yet: one port and one log file per process, keyed
    `intake`, `triage`, `metrics` (and `intake-2`, ... with replicas), or the given services."""
    infra = Infrastructure(
        kafka_bootstrap_servers=kafka_bootstrap_servers, database_url=database_url
    )
    common = {
        "LTS_ENVIRONMENT": "local",
        "LTS_METRICS_ANALYST_ROLE": analyst_role(database),
        "LTS_METRICS_PROJECTION_IDLE_SECONDS": "0.1",
        **(extra_env or {}),
    }
    processes = {}
    for replica in range(1, replicas + 1):
        for name in services:
            port, label = free_port(), replica_label(name, replica)
            processes[label] = ServiceProcess(
                name=name,
                port=port,
                env={**service_env(name, port, infra), **common},
                log=logs / f"{label}.log",
                namespace=namespace,
            )
    return Stack(processes, database_url, kafka_bootstrap_servers, namespace)
