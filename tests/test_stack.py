"""`lts stack up` starts every installed service as its own process against real Kafka and
PostgreSQL, waits until each is ready, prints its endpoints; `lts stack down` stops them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from lts_events.infra import Infrastructure
from lts_events.infra.stack import available_services
from lts_events.infra.state import pid_alive

pytestmark = pytest.mark.integration


def lts(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lts", path=str(Path(sys.executable).parent))
    assert executable is not None
    return subprocess.run(
        [executable, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.mark.timeout(300)
def test_the_stack_comes_up_ready_and_goes_down(infra: Infrastructure, tmp_path: Path) -> None:
    env = {**os.environ, **infra.env(), "LTS_HOME": str(tmp_path)}
    expected = available_services()

    up = lts("stack", "up", "--json", env=env)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        info = json.loads(up.stdout)
        services = info["services"]
        assert sorted(services) == sorted(expected)
        with httpx.Client(timeout=5) as client:
            for name, urls in services.items():
                assert client.get(f"{urls['url']}/readyz").status_code == 200, name
                assert client.get(urls["docs"]).status_code == 200, name
        assert "dev-release_manager" in info["tokens"]
    finally:
        down = lts("stack", "down", "--keep-infra", env=env)

    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(urls["pid"]) for urls in services.values())
