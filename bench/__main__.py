"""Run every `bench/bench_*.py` and print one JSON line per measurement.

Each module exposes `async def main(*, kafka_bootstrap_servers: str, database_url: str)
-> list[dict[str, object]]` returning rows such as {"bench": NAME, "ours": X, "baseline": Y,
"ratio": X/Y, "unit": "..."}. Kafka and PostgreSQL come from `ensure_infrastructure()`.
`python -m bench NAME...` runs only the named modules (`bench_` prefix optional). Each bench
starts once the machine is quiet (`_settle`: at most a quarter of a core busy over a second, or
after 30 s), so that the previous bench's aftermath is not counted against it. The benches run
on uvloop, the loop every service runs on under uvicorn (the in-process benches run service code:
the triage consumer, intake's Kafka path, the store, the relay); `BENCH_LOOP=asyncio` runs them
on asyncio's own loop instead, for comparison."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol, cast

from lts_devtools.infra import ensure_infrastructure

from bench._settle import QUIET_BUSY_CORES, settle

BENCH_DIR = Path(__file__).resolve().parent


class BenchMain(Protocol):
    def __call__(
        self, *, kafka_bootstrap_servers: str, database_url: str
    ) -> Awaitable[list[dict[str, object]]]: ...


def discover(selected: Sequence[str] = ()) -> list[str]:
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in selected}
    names = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))
    return [name for name in names if not wanted or name in wanted]


def _load(name: str) -> BenchMain:
    module = importlib.import_module(f"bench.{name}")
    return cast("BenchMain", module.main)


async def run(names: Sequence[str], *, emit: Callable[[dict[str, object]], None]) -> int:
    """Run each bench in turn; a failing bench is reported as a row with `error` and counted."""
    infra = ensure_infrastructure(keep=False)
    failures = 0
    for name in names:
        waited, busy = await settle()
        quiet = "quiet" if busy <= QUIET_BUSY_CORES else "still busy"
        print(f"# {name}: {quiet} after {waited:.1f}s ({busy:.2f} cores busy)", file=sys.stderr)
        started = time.perf_counter()
        try:
            rows = await _load(name)(
                kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                database_url=infra.database_url,
            )
        except Exception as error:
            failures += 1
            traceback.print_exc(file=sys.stderr)
            emit({"bench": name, "error": f"{type(error).__name__}: {error}"})
            continue
        for row in rows:
            emit(row)
        print(f"# {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return failures


def _emit(row: dict[str, object]) -> None:
    print(json.dumps(row, default=str), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    names = discover(sys.argv[1:] if argv is None else argv)
    if not names:
        print("# no bench/bench_*.py found", file=sys.stderr)
        return 0
    if os.environ.get("BENCH_LOOP", "uvloop") == "uvloop":
        import uvloop

        return 1 if uvloop.run(run(names, emit=_emit)) else 0
    return 1 if asyncio.run(run(names, emit=_emit)) else 0


if __name__ == "__main__":
    sys.exit(main())
