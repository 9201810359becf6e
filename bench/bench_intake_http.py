"""`intake_http`: Alertmanager webhook notifications per second through intake's HTTP path, as a
webhook storm would send them, against a no-op FastAPI route served the same way.

Ours: the real intake service as a process (harness/stack.py, as bench_pipeline runs it: uvicorn
on a local port, its own database and Kafka namespace, the relay publishing), receiving
NOTIFICATIONS Alertmanager webhook (version 4) notifications of one alert each, 4 in 5 a new
alert (a new ticket), 1 in 5 the latest one firing again with a new `startsAt`, from CONCURRENCY
clients at once (one connection each) after a warm-up. Baseline, same run, same client: a
FastAPI app with one route taking the same JSON body and answering at once, in its own process
under uvicorn. Both run side by side and take the counted notifications in ROUNDS alternating
rounds, so the load of the shared machine weighs on both alike (`compare`).

Rows: `intake_http` (requests/s of both, ratio, each server's and the clients' CPU ms per
request; for ours also PostgreSQL's and the local broker's, and `cpu_bound_ratio`, the ratio's
ceiling on this machine at those costs) and `intake_http_p99` (each request's time from send
to answer, p50 and p99 over the measured requests), with the machine's load average before and
after. Every answer must be 200 and every new alert must have opened exactly one ticket;
anything else fails the bench."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import Body, FastAPI
from lts_devtools.infra.net import free_port
from lts_events.contracts.intake import TicketOpened

from bench._processes import (
    RunningStack,
    cores_bound,
    local_broker_pid,
    process_cpu_seconds,
    running_stack,
)

NOTIFICATIONS = int(os.environ.get("BENCH_INTAKE_HTTP_NOTIFICATIONS", "2000"))
CONCURRENCY = 32
WARM_UP = 200  # sent and answered before the clock starts (connections, first-use costs)
ROUNDS = 4  # counted rounds per server, alternating between them
TOKEN = "bench-alert-webhook-token"
ROUTE = "/webhooks/alertmanager"
ROOT = Path(__file__).resolve().parent.parent


def notifications(run: str, count: int) -> list[dict[str, Any]]:
    """Alertmanager webhook v4 notifications, one alert each (a group of one)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    payloads = []
    fresh = 0
    for index in range(count):
        if index % 5 == 4 and fresh:
            number = fresh - 1  # the latest new alert fires again
            starts = start + timedelta(seconds=index)
        else:
            number, fresh = fresh, fresh + 1
            starts = start
        labels = {
            "alertname": "HighErrorRate",
            "service": f"api-{number % 7}",
            "instance": f"{run}-{number:06d}",
            "severity": "critical" if number % 3 == 0 else "warning",
        }
        payloads.append(
            {
                "version": "4",
                "groupKey": f'{{}}:{{alertname="HighErrorRate", instance="{run}-{number:06d}"}}',
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "lts-intake",
                "groupLabels": {"alertname": "HighErrorRate", "instance": labels["instance"]},
                "commonLabels": labels,
                "commonAnnotations": {"summary": "5xx ratio above 5%"},
                "externalURL": "http://alertmanager:9093",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": labels,
                        "annotations": {
                            "summary": "5xx ratio above 5%",
                            "description": "error budget burning",
                        },
                        "startsAt": starts.isoformat().replace("+00:00", "Z"),
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus:9090/graph?g0.expr=errors",
                        "fingerprint": f"{run}{number:010x}",
                    }
                ],
            }
        )
    return payloads


def new_alerts(payloads: Sequence[dict[str, Any]]) -> int:
    return len({p["alerts"][0]["fingerprint"] for p in payloads})


@dataclass(frozen=True)
class Measured:
    per_second: float
    p50_ms: float
    p99_ms: float
    retried: int
    server_cpu_ms: float  # the server process's CPU time (user + system) per counted request
    client_cpu_ms: float  # this process's (the clients') CPU time per counted request
    backing_cpu_ms: float | None  # PostgreSQL's and the broker's, None when not visible here


@dataclass
class Target:
    """One server under test and what its counted rounds added up to."""

    url: str
    pid: int
    clients: Sequence[httpx.AsyncClient]
    # CPU seconds so far of what the server relies on (PostgreSQL's backends, the broker),
    # when they run on this machine
    backing: Callable[[], Awaitable[float]] | None = None
    took: list[float] = field(default_factory=list)  # each request's seconds to its answer
    retried: int = 0  # connections the server closed under a request, which was sent again
    elapsed: float = 0.0
    cpu: float = 0.0
    client_cpu: float = 0.0
    backing_cpu: float = 0.0
    requests: int = 0

    async def send(self, payloads: Sequence[dict[str, Any]]) -> list[float]:
        """Post `payloads` from CONCURRENCY clients at once, each with its own connection, as
        as many Alertmanager replicas would: a request whose connection the server closed is
        sent again (the time counted from the first send). Each request's seconds."""
        queue = iter(payloads)
        took: list[float] = []

        async def worker(client: httpx.AsyncClient) -> None:
            for payload in queue:
                started = time.perf_counter()
                for attempt in range(3):
                    try:
                        response = await client.post(self.url, json=payload)
                        break
                    except (httpx.ReadError, httpx.RemoteProtocolError):
                        if attempt == 2:
                            raise
                        self.retried += 1
                took.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{self.url}: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(worker(client) for client in self.clients))
        return took

    async def round(self, payloads: Sequence[dict[str, Any]]) -> None:
        """One counted round: its time, the server's CPU and each request's time added up."""
        backing = await self.backing() if self.backing else 0.0
        started, cpu, client = time.perf_counter(), cpu_seconds(self.pid), time.process_time()
        self.took += await self.send(payloads)
        self.elapsed += time.perf_counter() - started
        self.cpu += cpu_seconds(self.pid) - cpu
        self.client_cpu += time.process_time() - client
        if self.backing:
            self.backing_cpu += await self.backing() - backing
        self.requests += len(payloads)

    def measured(self) -> Measured:
        took = sorted(self.took)
        return Measured(
            self.requests / self.elapsed,
            1000 * took[len(took) // 2],
            1000 * took[min(len(took) - 1, int(len(took) * 0.99))],
            self.retried,
            1000 * self.cpu / self.requests,
            1000 * self.client_cpu / self.requests,
            None if self.backing is None else 1000 * self.backing_cpu / self.requests,
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def _clients() -> AsyncIterator[list[httpx.AsyncClient]]:
    """CONCURRENCY clients of one connection each: one shared pool of 32 cost the client
    ~45% of its CPU in httpcore's connection bookkeeping (py-spy), CPU the servers then lacked
    on this 2-core machine, and queued requests unevenly (a no-op's p99 7-9x its p50)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits, timeout=60
                )
            )
            for _ in range(CONCURRENCY)
        ]


async def compare(
    payloads: Sequence[dict[str, Any]],
    *,
    ours: tuple[str, int],
    baseline: tuple[str, int],
    backing: Callable[[], Awaitable[float]] | None = None,
) -> tuple[Measured, Measured]:
    """Both servers warmed up with the first WARM_UP payloads, then the rest sent to each in
    ROUNDS alternating rounds (which goes first alternates too), so a change of the shared
    machine's load in the run falls on both alike. (ours, baseline)."""
    warm, counted = payloads[:WARM_UP], payloads[WARM_UP:]
    size = -(-len(counted) // ROUNDS)
    rounds = [counted[start : start + size] for start in range(0, len(counted), size)]
    async with _clients() as ours_clients, _clients() as baseline_clients:
        targets = [
            Target(ours[0] + ROUTE, ours[1], ours_clients, backing),
            Target(baseline[0] + ROUTE, baseline[1], baseline_clients),
        ]
        for target in targets:
            await target.send(warm)
        for index, chunk in enumerate(rounds):
            for target in targets if index % 2 == 0 else targets[::-1]:
                await target.round(chunk)
    return targets[0].measured(), targets[1].measured()


def noop_app() -> FastAPI:
    app = FastAPI()

    @app.post(ROUTE)
    async def accept(payload: dict[str, Any] = Body()) -> dict[str, Any]:  # noqa: B008
        return {"results": []}

    return app


def serve_noop(port: int) -> None:
    """The baseline's process: the no-op app under uvicorn, as `lts_events.service.serve` runs a
    service (same server, same settings)."""
    import uvicorn

    uvicorn.run(noop_app(), host="127.0.0.1", port=port, log_config=None)


@contextlib.asynccontextmanager
async def _baseline() -> AsyncIterator[tuple[str, int]]:
    """The no-op server running: its URL and process id."""
    port = free_port()
    code = f"from bench.bench_intake_http import serve_noop; serve_noop({port})"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # up to a minute
            if await _answers(base):
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"the no-op server on {base} did not answer within a minute")
        yield base, process.pid
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


async def _answers(base: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            await client.get(base + "/docs", timeout=1)
    except httpx.HTTPError:
        return False
    return True


async def measure(
    payloads: Sequence[dict[str, Any]], *, kafka_bootstrap_servers: str, database_url: str
) -> tuple[Measured, Measured]:
    """(ours, baseline) from one `compare` run; fails unless every new alert opened exactly
    one ticket."""
    async with (
        _baseline() as baseline,
        running_stack(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            database_url=database_url,
            prefix="bench_intake_http",
            services=("intake",),
            extra_env={"LTS_INTAKE_ALERT_WEBHOOK_TOKEN": TOKEN},
        ) as running,
    ):
        intake = running.stack.services["intake"].process
        assert intake is not None
        broker = local_broker_pid(kafka_bootstrap_servers)
        backing = None  # unless the server's and the broker's processes are visible here
        if broker is not None and await running.backends_cpu_seconds() is not None:
            backing = _backing(running, broker)
        measured = await compare(
            payloads,
            ours=(running.stack.urls["intake"], intake.pid),
            baseline=baseline,
            backing=backing,
        )
        opened = await running.conn.fetchval(
            "SELECT count(*) FROM intake.events WHERE type = $1", TicketOpened.type
        )
        tickets = await running.conn.fetchval(
            "SELECT count(DISTINCT data->>'alert_fingerprint') FROM intake.events WHERE type = $1",
            TicketOpened.type,
        )
    if not opened == tickets == new_alerts(payloads):
        raise RuntimeError(
            f"{new_alerts(payloads)} new alerts opened {opened} tickets for {tickets} alerts"
        )
    return measured


def _backing(running: RunningStack, broker: int) -> Callable[[], Awaitable[float]]:
    """CPU seconds so far of the run's PostgreSQL backends and of the local broker."""

    async def used() -> float:
        backends = await running.backends_cpu_seconds()
        kafka = process_cpu_seconds(broker)
        assert backends is not None, "the server's processes are no longer visible"
        assert kafka is not None, "the broker is gone"
        return sum(backends.values()) + kafka

    return used


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _cpu_bound_ratio(ours: Measured, baseline: Measured) -> float | None:
    """The ratio's ceiling on this machine at the CPU per request measured: intake's rate
    with every core busy (clients, intake, PostgreSQL and the broker sharing them) or with
    intake's one event loop busy all along, whichever is lower, over the no-op's rate."""
    if ours.backing_cpu_ms is None:
        return None
    all_cores = cores_bound(ours.client_cpu_ms + ours.server_cpu_ms + ours.backing_cpu_ms)
    one_loop = 1000 / ours.server_cpu_ms
    return round(min(all_cores, one_loop) / baseline.per_second, 3)


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    payloads = notifications(uuid.uuid4().hex[:6], WARM_UP + NOTIFICATIONS)
    load_before = os.getloadavg()[0]
    ours, baseline = await measure(
        payloads, kafka_bootstrap_servers=kafka_bootstrap_servers, database_url=database_url
    )
    common = {
        "notifications": NOTIFICATIONS,
        "concurrency": CONCURRENCY,
        "warm_up": WARM_UP,
        "rounds": ROUNDS,
        # the 1-minute load average before and after: a ratio is only comparable at like load
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
    }
    return [
        {
            "bench": "intake_http",
            "ours": round(ours.per_second, 1),
            "baseline": round(baseline.per_second, 1),
            "ratio": round(ours.per_second / baseline.per_second, 3),
            "unit": "requests/s",
            "server_cpu_ms_per_request": round(ours.server_cpu_ms, 2),
            "baseline_server_cpu_ms_per_request": round(baseline.server_cpu_ms, 2),
            # The clients are one process, so at most one core: at the no-op's rate they are
            # the bound (their CPU per request times the rate reaches ~1 s per second).
            "client_cpu_ms_per_request": round(ours.client_cpu_ms, 2),
            "baseline_client_cpu_ms_per_request": round(baseline.client_cpu_ms, 2),
            "backing_cpu_ms_per_request": _rounded(ours.backing_cpu_ms),
            "cpu_bound_ratio": _cpu_bound_ratio(ours, baseline),
            "retried": ours.retried,
            "baseline_retried": baseline.retried,
            **common,
            "target": "ratio >= 0.7",
        },
        {
            "bench": "intake_http_p99",
            "ours": round(ours.p99_ms, 1),
            "baseline": round(baseline.p99_ms, 1),
            "p50": round(ours.p50_ms, 1),
            "baseline_p50": round(baseline.p50_ms, 1),
            "unit": "ms",
            **common,
            "target": "< 250 ms",
        },
    ]


if __name__ == "__main__":
    print(
        asyncio.run(
            main(
                kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                database_url=os.environ["DATABASE_URL"],
            )
        )
    )
