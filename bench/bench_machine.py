"""`machine_speed`: how fast this machine runs plain Python, so that the absolute figures of the
other benches (alerts/s, requests/s) can be compared across machines.

The workload is the stdlib alone, none of our code (which changes from commit to commit): build
an event-like dict, write it as sorted compact JSON, hash it with SHA-256 and read it back,
ITERATIONS times, in this process on one core. CPU time (`time.process_time`), best of ROUNDS, so
that a round another process interrupted does not count. The row's `ours` is iterations per
second of CPU; the README's table gives the value it read on the machine its figures come from."""

from __future__ import annotations

import hashlib
import json
import time

ITERATIONS = 20_000
ROUNDS = 5


def _workload(iterations: int) -> int:
    digest_bytes = 0
    for index in range(iterations):
        event = {
            "id": f"evt-{index:08d}",
            "type": "lts.intake.ticket_opened",
            "stream": f"ticket-{index % 977}",
            "version": index % 13,
            "data": {
                "labels": {"alertname": "HighErrorRate", "service": f"api-{index % 7}"},
                "severity": "critical" if index % 3 == 0 else "warning",
                "score": index * 0.5,
            },
        }
        text = json.dumps(event, sort_keys=True, separators=(",", ":"))
        digest_bytes += len(hashlib.sha256(text.encode()).digest())
        json.loads(text)
    return digest_bytes


def measure() -> float:
    """Iterations per CPU second, best of ROUNDS."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        _workload(ITERATIONS)
        best = min(best, time.process_time() - started)
    return ITERATIONS / best


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    del kafka_bootstrap_servers, database_url  # the machine alone
    return [
        {
            "bench": "machine_speed",
            "ours": round(measure()),
            "unit": "iterations/s of one core (stdlib JSON + SHA-256)",
            "iterations": ITERATIONS,
            "rounds": ROUNDS,
        }
    ]
