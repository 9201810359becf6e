"""The small chaos run of `make test` (`python -m chaos --small`): every service, the broker and
PostgreSQL SIGKILLed and restarted once during one load, then triage and PostgreSQL frozen
(SIGSTOP) past a consumer's session and thawed, on the run's own Kafka and PostgreSQL; then
every count must be exact. The full suite is `make chaos`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[1]


def run_chaos(arguments: list[str], *, within: float) -> tuple[int, str]:
    """`python -m chaos` with its exit code and output; interrupted (SIGINT, so that it stops its
    own broker and server) when it runs longer than `within` seconds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=50)
        output += f"\n(interrupted after {within:.0f}s)"
    return process.returncode, output[-6000:]


def test_nothing_is_lost_or_doubled_when_every_process_is_killed_once_under_load() -> None:
    # 150 alerts at 30 deliveries/s: a 10 s load, so that the faults (at 10% to 70% of it) land
    # while it flows; the broker's outage holds the rest of the load back until it is up again.
    command = ["--small", "--n", "150", "--rate", "30", "--timeout", "120"]

    code, output = run_chaos(command, within=240)

    assert code == 0, output
