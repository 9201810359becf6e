"""Commands that need the running stack say in one line what they tried when it is not there,
instead of a traceback (`lts_events.reach`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

LTS = str(Path(sys.executable).with_name("lts"))
COMMANDS = (
    ["store", "verify", "--schema", "intake"],
    ["metrics", "rebuild"],
    ["intake", "import-osv", __file__],
    ["audit", "reconcile"],
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LTS, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_database_that_does_not_answer_is_named_in_one_line(args: list[str]) -> None:
    port = _closed_port()
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres:secret@127.0.0.1:{port}/lts"}

    done = _run(args, env)

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:{port}/lts: "
        f"ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', {port})"
    ]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_without_a_running_stack_the_command_says_where_it_looked(
    args: list[str], tmp_path: Path
) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    }
    env |= {"LTS_HOME": str(tmp_path), "LTS_INFRA": "local"}

    done = _run(args, env)

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("no postgres: DATABASE_URL is unset")
    assert str(tmp_path) in line
