"""The real stack for end-to-end tests: intake, triage and metrics as their own processes
(`python -m`-style entry points), on free ports, against real Kafka and PostgreSQL.

Isolation on shared infrastructure: a fresh database per run (every service's schema in it) and a
per-run Kafka namespace for topics and consumer groups (`lts_e2e_namespace`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
SERVICES = ("intake", "triage", "metrics")
READY_TIMEOUT = 180.0


@dataclass
class Stack:
    urls: dict[str, str]
    database_url: str
    namespace: str
    logs: dict[str, Path] = field(default_factory=dict)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for name, path in self.logs.items()
        )


def _env_or_infra(request: pytest.FixtureRequest, env: str, attribute: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    found: str = getattr(request.getfixturevalue("infra"), attribute)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _admin(database_url: str, sql: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _launch(
    name: str, *, namespace: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import lts_e2e_namespace as ns; "
        f"ns.install({namespace!r}); from lts_{name}.main import main; main()"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _wait_ready(stack: Stack, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = set(processes)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            if processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited early\n{stack.tail()}")
            try:
                if httpx.get(f"{stack.urls[name]}/readyz", timeout=2).status_code == 200:
                    waiting.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if waiting:
        raise RuntimeError(f"not ready after {READY_TIMEOUT}s: {sorted(waiting)}\n{stack.tail()}")


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    server_url = _env_or_infra(request, "DATABASE_URL", "database_url")
    kafka = _env_or_infra(request, "KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")
    run_id = uuid.uuid4().hex[:10]
    database = f"lts_e2e_{run_id}"
    _admin(server_url, f"CREATE DATABASE {database}")
    database_url = make_url(server_url).set(database=database).render_as_string(False)
    namespace = f"e2e-{run_id}."
    logs = tmp_path_factory.mktemp("stack")
    ports = {name: _free_port() for name in SERVICES}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "LTS_ENVIRONMENT": "local",
        "LTS_METRICS_ANALYST_ROLE": f"lts_analyst_{run_id}",
        "LTS_METRICS_PROJECTION_IDLE_SECONDS": "0.1",
        **{f"LTS_{n.upper()}_HTTP_PORT": str(p) for n, p in ports.items()},
        **{f"LTS_{n.upper()}_HTTP_HOST": "127.0.0.1" for n in SERVICES},
    }
    stack = Stack(
        urls={n: f"http://127.0.0.1:{p}" for n, p in ports.items()},
        database_url=database_url,
        namespace=namespace,
        logs={n: logs / f"{n}.log" for n in SERVICES},
    )
    processes = {n: _launch(n, namespace=namespace, env=env, log=stack.logs[n]) for n in SERVICES}
    try:
        _wait_ready(stack, processes)
        yield stack
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        _admin(server_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        _admin(server_url, f"DROP ROLE IF EXISTS lts_analyst_{run_id}")
