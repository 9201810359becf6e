"""The local stack: every service package that is installed, each as its own process.

`start_services` launches `python -m lts_<name>` per service with the infrastructure settings and
an HTTP port, then waits until `/healthz` and `/readyz` answer 200. Background processes are
recorded in `$LTS_HOME/run/stack.json` so `stop_services` can stop them."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lts_devtools.infra import Infrastructure
from lts_devtools.infra.net import free_port, port_free
from lts_events.infra import state
from lts_events.infra.paths import run_dir
from lts_events.registry import service_ports
from lts_events.settings import AuthSettings, CommonSettings

SERVICE_PORTS = service_ports()  # in pipeline order
COMPONENT = "stack"
DEV_WEBHOOK_SECRETS = {  # the services' webhook settings and their local-only defaults
    "github": ("LTS_INTAKE_GITHUB_WEBHOOK_SECRET", "dev-github-webhook-secret"),
    "gitlab": ("LTS_INTAKE_GITLAB_WEBHOOK_TOKEN", "dev-gitlab-webhook-token"),
    "alerts": ("LTS_INTAKE_ALERT_WEBHOOK_TOKEN", "dev-alert-webhook-token"),
    "release-github-ci": (
        "LTS_RELEASE_CI_GITHUB_WEBHOOK_SECRET",
        "dev-release-github-webhook-secret",
    ),
    "release-gitlab-ci": (
        "LTS_RELEASE_CI_GITLAB_WEBHOOK_TOKEN",
        "dev-release-gitlab-webhook-token",
    ),
}


class ServiceFailed(RuntimeError):
    """A service exited or did not become ready."""


@dataclass(frozen=True)
class RunningService:
    name: str
    pid: int
    port: int
    log: str | None
    replica: int = 1  # 1..N: replicas share the consumer group and the database

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        """`triage` for the first replica, `triage-2` for the second, ..."""
        return replica_label(self.name, self.replica)


def replica_label(name: str, replica: int) -> str:
    return name if replica == 1 else f"{name}-{replica}"


def available_services() -> list[str]:
    """The services whose package (with a `main` module) is installed, in pipeline order."""
    return [name for name in SERVICE_PORTS if _has_main(f"lts_{name}")]


def _has_main(package: str) -> bool:
    try:
        return importlib.util.find_spec(f"{package}.main") is not None
    except ModuleNotFoundError:
        return False


# What the local stack (`lts dev`, `lts stack up`) gives the services unless the environment
# says otherwise, so that the demo runs through: the seed's lines as released before the
# release service (a first canary has a safe version to roll back to), and a mail list for
# every comms document (delivered to the local SMTP server's maildir).
LOCAL_DEFAULTS = {
    "LTS_RELEASE_CORE_RELEASED_VERSIONS": json.dumps({"1.4": "1.4.2", "1.3": "1.3.8"}),
    "LTS_COMMS_MAIL_LISTS": json.dumps(
        {
            kind: ["lts-dev@localhost"]
            for kind in ("release_note", "security_advisory", "internal_status", "upgrade_guidance")
        }
    ),
}


def service_env(name: str, port: int, infra: Infrastructure) -> dict[str, str]:
    upper = name.upper()
    return {
        **LOCAL_DEFAULTS,
        **os.environ,
        **infra.env(),
        f"LTS_{upper}_HTTP_HOST": "127.0.0.1",
        f"LTS_{upper}_HTTP_PORT": str(port),
        "LTS_ENVIRONMENT": CommonSettings().environment,
        "PYTHONUNBUFFERED": "1",
    }


def _port_for(name: str, replica: int, taken: set[int]) -> int:
    """The service's own port for its first replica (when free); any free port for the others."""
    preferred = SERVICE_PORTS[name]
    usable = replica == 1 and preferred not in taken and port_free(preferred)
    port = preferred if usable else free_port()
    taken.add(port)
    return port


def wanted(names: Sequence[str], replicas: int) -> list[tuple[str, int]]:
    """(service, replica) pairs in pipeline order, replica 1 of every service first."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    return [(name, replica) for replica in range(1, replicas + 1) for name in names]


def spawn(
    instances: Sequence[tuple[str, int]], infra: Infrastructure, *, background: bool
) -> list[tuple[RunningService, subprocess.Popen[bytes]]]:
    """Start one process per (service, replica) of `wanted`; in the background their output goes
    to `run/<label>.log`. Replicas of a service share its Kafka consumer group (partitions spread
    across them) and its database; the relay, timers and projections run on one of them at a
    time (lts_events.leadership)."""
    taken: set[int] = set()
    return [
        spawn_one(name, replica, _port_for(name, replica, taken), infra, background=background)
        for name, replica in instances
    ]


def spawn_one(
    name: str, replica: int, port: int, infra: Infrastructure, *, background: bool
) -> tuple[RunningService, subprocess.Popen[bytes]]:
    """One process of a service on `port` (a restarted one keeps its port and its log)."""
    label = replica_label(name, replica)
    log_path = run_dir() / f"{label}.log" if background else None
    output: IO[bytes] | int = log_path.open("ab") if log_path else subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "-m", f"lts_{name}"],
        env=service_env(name, port, infra),
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=background,
    )
    if not isinstance(output, int):
        output.close()  # the child has its own; a watchdog restarting for days must not leak
    log = str(log_path) if log_path else None
    return RunningService(name, process.pid, port, log, replica), process


def wait_ready(
    services: Sequence[tuple[RunningService, subprocess.Popen[bytes]]],
    *,
    timeout: float = 90.0,
    on_ready: Callable[[RunningService, float], None] | None = None,
) -> None:
    """Wait until every service answers its probes; `on_ready(service, seconds since the call)`
    as each one does (all are polled each round, so a slow one does not delay the others')."""
    started = time.monotonic()
    pending = list(services)
    while pending:
        for service, process in list(pending):
            if _ready(service):
                pending.remove((service, process))
                if on_ready is not None:
                    on_ready(service, time.monotonic() - started)
            elif process.poll() is not None:
                raise ServiceFailed(f"{service.label} exited with {process.returncode}")
        if pending and time.monotonic() - started > timeout:
            raise ServiceFailed(f"{pending[0][0].label} not ready on {pending[0][0].url}")
        if pending:
            time.sleep(0.3)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, *, timeout: float = 2.0) -> int | None:
    """The status code of a GET (never through a proxy), or None when nothing answers."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def _ready(service: RunningService) -> bool:
    return all(http_status(f"{service.url}{path}") == 200 for path in ("/healthz", "/readyz"))


def record(services: Sequence[RunningService]) -> None:
    state.save(COMPONENT, {"services": [s.__dict__ for s in services]})


def recorded() -> list[RunningService]:
    saved = state.load(COMPONENT) or {}
    return [RunningService(**entry) for entry in saved.get("services", [])]


def running() -> list[RunningService]:
    return [s for s in recorded() if state.pid_alive(s.pid, marker=f"lts_{s.name}")]


def terminate(services: Sequence[RunningService], *, timeout: float = 15.0) -> list[str]:
    """SIGTERM each live process, then SIGKILL what is still alive after `timeout` seconds."""
    alive = {s.label: s.pid for s in services if state.pid_alive(s.pid, marker=f"lts_{s.name}")}
    for pid in alive.values():
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(state.pid_alive(p) for p in alive.values()):
        time.sleep(0.2)
    for pid in alive.values():
        if state.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    return list(alive)


def stop_services() -> list[str]:
    stopped = terminate(recorded())
    state.forget(COMPONENT)
    return stopped


def endpoints(services: Sequence[RunningService], infra: Infrastructure) -> dict[str, Any]:
    """What a person needs to use the stack: URLs, dev tokens per role, webhook secrets."""
    from lts_events.auth import dev_tokens_in_force
    from lts_events.auth_tokens import dev_tokens

    listed = {s.label: _service_endpoints(s) for s in services}
    # Only the dev tokens can be shown: configured ones are known by their digests.
    shown = dev_tokens() if dev_tokens_in_force(AuthSettings(), CommonSettings()) else {}
    return {
        "infrastructure": infra.env(),
        "services": listed,
        "tokens": {
            token: {"actor": p.actor_id, "roles": sorted(r.value for r in p.roles)}
            for token, p in shown.items()
        },
        "webhook_secrets": {
            name: os.environ.get(env, default)
            for name, (env, default) in DEV_WEBHOOK_SECRETS.items()
        },
    }


def _service_endpoints(service: RunningService) -> dict[str, Any]:
    urls: dict[str, Any] = {"url": service.url, "pid": service.pid}
    for key, path in (("docs", "/docs"), ("asyncapi", "/asyncapi"), ("metrics", "/metrics")):
        if http_status(f"{service.url}{path}") == 200:
            urls[key] = f"{service.url}{path}"
    if service.log:
        urls["log"] = service.log
    return urls


def log_path(name: str) -> Path:
    return run_dir() / f"{name}.log"
