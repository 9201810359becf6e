"""Where a command finds the running local stack, starting nothing: what services and `lts`
commands need at runtime, and nothing more.

The line with `lts_devtools` (the developer tooling, never in a service image): `lts_devtools`
starts and stops Kafka, PostgreSQL, the SMTP server, the package index and the services
(`lts infra up`, `lts stack up`, `lts dev`) and writes what it started to the state files under
`$LTS_HOME/run` (`state`, `paths`). This package only reads those files and probes what they
name, so that `lts dlq`, `lts store verify` or `lts metrics rebuild` after `make dev` find the
stack the way `lts infra up` would reuse it. Both sides share `state`, `paths` and `probes`, so
the state format and the readiness checks have one home.

For Kafka and PostgreSQL, in order: the environment (`KAFKA_BOOTSTRAP_SERVERS` /
`DATABASE_URL`), then a local process that `lts infra up` started and that answers, then a
container it started that answers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from lts_events.infra import paths, state
from lts_events.infra.probes import kafka_ready, postgres_ready

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "DATABASE_URL"
Component = Literal["kafka", "postgres"]

KAFKA_MARKER = "kafka.Kafka"
"""In the command line of the local broker: a recycled pid of another program is not it."""
POSTGRES_MARKER = "postgres"


def kafka_bootstrap(recorded: state.State) -> str:
    """The bootstrap servers of the local broker whose state is `recorded`."""
    return f"127.0.0.1:{recorded['broker_port']}"


def postgres_url(port: int) -> str:
    """The URL of the local server listening on `port` (trust authentication, local only)."""
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def local_kafka() -> str | None:
    """The bootstrap servers of the broker `lts infra up` started, if it is alive and answers."""
    recorded = state.load("kafka")
    if recorded is None or not state.pid_alive(int(recorded["pid"]), marker=KAFKA_MARKER):
        return None
    bootstrap = kafka_bootstrap(recorded)
    return bootstrap if kafka_ready(bootstrap) else None


def local_postgres() -> str | None:
    """The URL of the server `lts infra up` started, if it is alive and answers."""
    recorded = state.load("postgres")
    if recorded is None or not state.pid_alive(int(recorded["pid"]), marker=POSTGRES_MARKER):
        return None
    url = postgres_url(int(recorded["port"]))
    return url if postgres_ready(url) else None


def recorded_container(component: Component) -> str | None:
    """The address of a container `lts infra up` started, if it answers the real protocol (no
    Docker client here: what answers at the recorded address is what was recorded there)."""
    recorded = state.load(f"{component}-container")
    address = recorded and (recorded.get("bootstrap") or recorded.get("url"))
    if not isinstance(address, str):
        return None
    ready = kafka_ready if component == "kafka" else postgres_ready
    return address if ready(address) else None


class NotRunning(RuntimeError):
    """Neither the environment nor `lts infra up` points at a running component."""


@dataclass(frozen=True)
class Found:
    address: str
    origin: str
    """Where the address came from, for messages: the variable, or what `lts infra up` started."""


_ENV_OF = {"kafka": KAFKA_ENV, "postgres": DATABASE_ENV}


def find_running(component: Component, *, environ: Mapping[str, str] | None = None) -> Found:
    """Where a tool that reads the running stack (`lts dlq`) finds Kafka or PostgreSQL, starting
    nothing: the environment first, then what `lts infra up` started (local process or
    container), as `ensure_infrastructure` would reuse it. Raises `NotRunning`, naming each."""
    env = os.environ if environ is None else environ
    variable = _ENV_OF[component]
    if env.get(variable):
        return Found(env[variable], variable)
    running = local_kafka() if component == "kafka" else local_postgres()
    if running:
        return Found(running, f"the local {component} of `lts infra up`")
    running = recorded_container(component)
    if running:
        return Found(running, f"the {component} container of `lts infra up`")
    raise NotRunning(
        f"no {component}: {variable} is unset and no local process or container of "
        f"`lts infra up` runs (state in {paths.run_dir()})"
    )


def find_running_stack(*, environ: Mapping[str, str] | None = None) -> tuple[Found, Found]:
    """Kafka and PostgreSQL as `find_running` finds them; `NotRunning` names every component
    missing and where it was looked for, in one line."""
    found: dict[str, Found] = {}
    missing: list[str] = []
    components: tuple[Component, ...] = ("postgres", "kafka")
    for component in components:
        try:
            found[component] = find_running(component, environ=environ)
        except NotRunning as error:
            missing.append(str(error))
    if missing:
        raise NotRunning("; ".join(missing) + " (run `lts infra up`, or set the variables)")
    return found["kafka"], found["postgres"]


__all__ = [
    "DATABASE_ENV",
    "KAFKA_ENV",
    "Found",
    "NotRunning",
    "find_running",
    "find_running_stack",
    "kafka_bootstrap",
    "local_kafka",
    "local_postgres",
    "postgres_url",
    "recorded_container",
]
