"""`lts stack up` starts every installed service as its own process against real Kafka and
PostgreSQL, waits until each is ready (a line each), prints its endpoints; `lts stack down` stops
them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from lts_devtools.infra import Infrastructure
from lts_devtools.stack import available_services
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
        ready_lines = [line for line in up.stderr.splitlines() if " ready in " in line]
        assert sorted(line.split("]")[0].lstrip("[") for line in ready_lines) == sorted(expected)

        # A service that dies is started again on its port (the watchdog `up` leaves behind).
        killed = services["intake"]
        os.kill(killed["pid"], signal.SIGKILL)
        _wait("intake runs again", lambda: _recorded_pid(tmp_path, "intake") != killed["pid"])
        with httpx.Client(timeout=5) as client:
            _wait("intake is ready again", lambda: _ready(client, killed["url"]))
        restarted = _recorded_pid(tmp_path, "intake")
    finally:
        down = lts("stack", "down", "--keep-infra", env=env)

    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(urls["pid"]) for urls in services.values())
    assert not pid_alive(restarted)  # the record follows the restart, so `down` stops it
    watchdog_log = (tmp_path / "run" / "stack-watchdog.log").read_text()
    assert "intake exited; starting it again" in watchdog_log, watchdog_log


def _recorded_pid(home: Path, label: str) -> int:
    """The pid `lts stack` records for a service (its state under LTS_HOME)."""
    recorded = json.loads((home / "run" / "stack.json").read_text())
    [pid] = [s["pid"] for s in recorded["services"] if s["name"] == label and s["replica"] == 1]
    return int(pid)


def _ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _leading(client: httpx.Client, url: str) -> bool | None:
    """Whether this replica leads its service (None: not answering)."""
    try:
        details = client.get(f"{url}/readyz/details").json()
    except (httpx.HTTPError, ValueError):
        return None
    return bool(details.get("leader", {}).get("leading"))


def _wait(what: str, condition: Callable[[], bool], *, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.25)


@pytest.mark.timeout(400)
def test_replicas_share_a_service_and_a_killed_leader_is_replaced(
    infra: Infrastructure, tmp_path: Path
) -> None:
    """Two processes per service: both ready, one leads (relay, timers, projections); SIGKILL
    the triage leader and the other takes over, and a report sent to the second intake replica
    still reaches triage (consumer group, relay failover)."""
    env = {**os.environ, **infra.env(), "LTS_HOME": str(tmp_path)}
    expected = available_services()

    up = lts("stack", "up", "--replicas", "2", "--json", env=env)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        services = json.loads(up.stdout)["services"]
        assert sorted(services) == sorted([*expected, *(f"{name}-2" for name in expected)])
        with httpx.Client(timeout=5) as client:
            urls = {label: entry["url"] for label, entry in services.items()}
            for name in ("intake", "triage"):
                pair = (urls[name], urls[f"{name}-2"])
                _wait(
                    f"one {name} replica leads",
                    lambda pair=pair: sum(bool(_leading(client, u)) for u in pair) == 1,
                )
            leader, follower = (
                ("triage", "triage-2")
                if _leading(client, urls["triage"])
                else ("triage-2", "triage")
            )
            os.kill(services[leader]["pid"], signal.SIGKILL)
            _wait(f"{follower} leads", lambda: _leading(client, urls[follower]) is True)

            report = {
                "title": "Replica test: login fails after upgrade",
                "description": "Every login answers 500 after the upgrade.",
                "affected_versions": ["1.4.2"],
                "severity": "high",
            }
            sent = client.post(
                f"{urls['intake-2']}/reports",
                json=report,
                headers={"Authorization": "Bearer dev-requester"},
            )
            assert sent.status_code == 201, sent.text
            ticket = sent.json()["ticket_id"]

            def triage_has_it() -> bool:
                answer = client.get(
                    f"{urls[follower]}/tickets/{ticket}/triage",
                    headers={"Authorization": "Bearer dev-analyst"},
                )
                return answer.status_code == 200

            _wait(f"{follower} received ticket {ticket}", triage_has_it, timeout=120)
    finally:
        down = lts("stack", "down", "--keep-infra", env=env)
    assert down.returncode == 0, down.stderr
