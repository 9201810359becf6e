"""`python -m chaos`: the chaos suite (`make chaos N=... RATE=...`).

Starts its own Kafka broker and PostgreSQL server (durable), then for each scenario: the stack
(intake, triage, metrics as processes; every service in `replicas`), N distinct alerts each
delivered twice at RATE deliveries/s, the scenario's SIGKILLs and restarts, quiescence, the exact
counts. Prints one table row per scenario; exits 1 when any count is off."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys

from chaos.checks import failures
from chaos.infra import ChaosInfrastructure
from chaos.run import Load, Outcome, run_scenario
from chaos.scenarios import SCENARIOS, SMALL
from chaos.table import render


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="distinct alerts (each sent twice)")
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default: all"
    )
    parser.add_argument("--small", action="store_true", help=f"only {', '.join(SMALL)}")
    parser.add_argument("--timeout", type=float, default=300.0, help="quiescence timeout (s)")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs")
    return parser.parse_args(argv)


def _report(name: str, outcome: Outcome) -> None:
    for failure in failures(outcome.counts):
        print(f"{name}: {failure}", file=sys.stderr)
    for letter in outcome.dead_letters[:5]:
        print(f"{name}: DLQ {letter.reason} {letter.source_topic}: {letter.error}", file=sys.stderr)
    if failures(outcome.counts):
        print(f"{name}: service logs in {outcome.logs}", file=sys.stderr)


async def _run(names: list[str], load: Load, infra: ChaosInfrastructure) -> bool:
    results = []
    for name in names:
        outcome = await run_scenario(infra, SCENARIOS[name], load)
        _report(name, outcome)
        results.append((name, outcome.counts))
        print(render(results[-1:]), file=sys.stderr, flush=True)
    print(f"chaos: N={load.n} alerts, each delivered twice, at {load.rate:g} deliveries/s")
    print(render(results), flush=True)
    return not any(failures(counts) for _, counts in results)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    names = list(SMALL) if args.small else (args.scenario or list(SCENARIOS))
    load = Load(n=args.n, rate=args.rate, quiescence_timeout=args.timeout)
    infra = ChaosInfrastructure.start()
    passed = False
    try:
        passed = asyncio.run(_run(names, load, infra))
    finally:
        infra.stop()
        if args.keep or not passed:
            print(f"chaos: data and logs kept in {infra.home}", file=sys.stderr)
        else:
            shutil.rmtree(infra.home, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
