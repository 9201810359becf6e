"""The small chaos run of `make test` (`python -m chaos --small`): every service, the broker and
PostgreSQL SIGKILLed and restarted once during one load, on the run's own Kafka and PostgreSQL;
then every count must be exact. The full suite is `make chaos`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[1]


def test_nothing_is_lost_or_doubled_when_every_process_is_killed_once_under_load() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaos",
            "--small",
            "--n",
            "100",
            "--rate",
            "50",
            "--timeout",
            "150",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=290,
        check=False,
    )

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}"
