"""`intake_http`: Alertmanager webhook notifications per second through intake's HTTP path, as a
webhook storm would send them, against a no-op FastAPI route served the same way.

Ours: the real intake service as a process (harness/stack.py, as bench_pipeline runs it: uvicorn
on a local port, its own database and Kafka namespace, the relay publishing), receiving
NOTIFICATIONS Alertmanager webhook (version 4) notifications of one alert each, 4 in 5 a new
alert (a new ticket), 1 in 5 the latest one firing again with a new `startsAt`, from CONCURRENCY
clients at once after a warm-up. Baseline, same run, same client: a FastAPI app with one route
taking the same JSON body and answering at once, in its own process under uvicorn.

Rows: `intake_http` (requests/s of both, ratio) and `intake_http_p99` (each request's time from
send to answer, p50 and p99 over the measured requests). Every answer must be 200 and every new
alert must have opened exactly one ticket; anything else fails the bench."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import Body, FastAPI
from lts_devtools.infra.net import free_port
from lts_events.contracts.intake import TicketOpened

from bench._processes import running_stack

NOTIFICATIONS = int(os.environ.get("BENCH_INTAKE_HTTP_NOTIFICATIONS", "2000"))
CONCURRENCY = 32
WARM_UP = 200  # sent and answered before the clock starts (connections, first-use costs)
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


@dataclass
class Sent:
    took: list[float] = field(default_factory=list)  # each request's seconds to its answer
    retried: int = 0  # connections the server closed under a request, which was sent again


async def _send(client: httpx.AsyncClient, url: str, payloads: Sequence[dict[str, Any]]) -> Sent:
    """Post `payloads` from CONCURRENCY clients at once, as Alertmanager would: a request whose
    connection the server closed is sent again (the time counted from the first send)."""
    queue = iter(payloads)
    sent = Sent()

    async def worker() -> None:
        for payload in queue:
            started = time.perf_counter()
            for attempt in range(3):
                try:
                    response = await client.post(url, json=payload)
                    break
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    if attempt == 2:
                        raise
                    sent.retried += 1
            sent.took.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return sent


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(base: str, payloads: Sequence[dict[str, Any]], *, server: int) -> Measured:
    warm, counted = payloads[:WARM_UP], payloads[WARM_UP:]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits, timeout=60
    ) as client:
        url = base + ROUTE
        await _send(client, url, warm)
        started, cpu = time.perf_counter(), cpu_seconds(server)
        sent = await _send(client, url, counted)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(server) - cpu
    took = sorted(sent.took)
    return Measured(
        len(counted) / elapsed,
        1000 * took[len(took) // 2],
        1000 * took[min(len(took) - 1, int(len(took) * 0.99))],
        sent.retried,
        1000 * cpu / len(counted),
    )


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


async def _baseline(payloads: Sequence[dict[str, Any]]) -> Measured:
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
        return await measure(base, payloads, server=process.pid)
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


async def _ours(
    payloads: Sequence[dict[str, Any]], *, kafka_bootstrap_servers: str, database_url: str
) -> Measured:
    async with running_stack(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        prefix="bench_intake_http",
        services=("intake",),
        extra_env={"LTS_INTAKE_ALERT_WEBHOOK_TOKEN": TOKEN},
    ) as running:
        intake = running.stack.services["intake"].process
        assert intake is not None
        measured = await measure(running.stack.urls["intake"], payloads, server=intake.pid)
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


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    payloads = notifications(uuid.uuid4().hex[:6], WARM_UP + NOTIFICATIONS)
    baseline = await _baseline(payloads)
    ours = await _ours(
        payloads, kafka_bootstrap_servers=kafka_bootstrap_servers, database_url=database_url
    )
    common = {"notifications": NOTIFICATIONS, "concurrency": CONCURRENCY, "warm_up": WARM_UP}
    return [
        {
            "bench": "intake_http",
            "ours": round(ours.per_second, 1),
            "baseline": round(baseline.per_second, 1),
            "ratio": round(ours.per_second / baseline.per_second, 3),
            "unit": "requests/s",
            "server_cpu_ms_per_request": round(ours.server_cpu_ms, 2),
            "baseline_server_cpu_ms_per_request": round(baseline.server_cpu_ms, 2),
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
