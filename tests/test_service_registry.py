"""The files that name every service, read by tools that cannot ask Python (uv, mypy,
import-linter, Docker Compose, Helm, Prometheus, readers of the README), checked against the one
registry, `lts_events/registry.py`: a service added there and forgotten in a file fails here
naming the file and what to add; one left in a file after its removal fails naming it too."""

from __future__ import annotations

import importlib
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from lts_events.registry import SERVICES

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "libs/events/src/lts_events/registry.py"
# The libraries beside the services: the shared one and the developer tooling.
SHARED = {
    *("lts-events", "lts_events", "libs/events/src"),
    *("lts-devtools", "lts_devtools", "libs/devtools/src"),
}

Check = Callable[[], list[str]]


def compare(file: str, expected: Mapping[str, str], found: Iterable[str]) -> list[str]:
    """`expected`: each service's entry -> the line to add for it. Entries of `found` that are
    not expected name a service the registry does not have."""
    present = set(found) - SHARED
    missing = [f"{file}: add {line}" for entry, line in expected.items() if entry not in present]
    unknown = [f"{file}: {entry} is not in {REGISTRY}" for entry in sorted(present - set(expected))]
    return missing + unknown


def mismatches(file: str, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    return [
        f"{file}: {where} should be {value!r}, not {actual.get(where)!r}"
        for where, value in expected.items()
        if actual.get(where) != value
    ]


def read_toml(relative: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / relative).read_text())


def read_yaml(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / relative).read_text())
    return loaded


def workspace() -> list[str]:
    """A folder `services/<name>/` is a service of the uv workspace (`members = ["services/*"]`)."""
    folders = {path.parent.name for path in (ROOT / "services").glob("*/pyproject.toml")}
    expected = {
        s.name: f"the folder services/{s.name}/ (or drop it from {REGISTRY})" for s in SERVICES
    }
    return compare("services/", expected, folders)


def root_pyproject() -> list[str]:
    file = "pyproject.toml"
    project = read_toml(file)
    tool = project["tool"]
    lists: list[tuple[str, Callable[[str], str], Iterable[str]]] = [
        ("[project] dependencies", "lts-{}".format, project["project"]["dependencies"]),
        ("[tool.uv.sources]", "lts-{}".format, tool["uv"]["sources"]),
        ("[tool.mypy] mypy_path", "services/{}/src".format, tool["mypy"]["mypy_path"].split(":")),
        (
            "[tool.importlinter] root_packages",
            "lts_{}".format,
            tool["importlinter"]["root_packages"],
        ),
    ]
    # A contract's list that names one service names them all (independence, forbidden...).
    for contract in tool["importlinter"]["contracts"]:
        for key in ("modules", "source_modules", "forbidden_modules"):
            found = contract.get(key, [])
            if set(found) - SHARED:
                lists.append((f"contract {contract['name']!r} {key}", "lts_{}".format, found))
    problems = []
    for where, entry, found in lists:
        ours = [item for item in found if item.startswith(("lts", "services/"))]
        expected = {entry(s.name): repr(entry(s.name)) for s in SERVICES}
        problems += compare(f"{file} {where}", expected, ours)
    return problems


def compose() -> list[str]:
    file = "docker-compose.yml"
    services = read_yaml(file)["services"]
    built = [name for name, service in services.items() if "build" in service]
    expected = {
        s.name: f'a service {s.name!r} built with args {{ SERVICE: {s.name}, PORT: "{s.port}" }}'
        for s in SERVICES
    }
    problems = compare(file, expected, built)
    for s in SERVICES:
        service = services.get(s.name)
        if service is None or "build" not in service:
            continue
        actual = {
            "build.args.SERVICE": service["build"]["args"].get("SERVICE"),
            "build.args.PORT": service["build"]["args"].get("PORT"),
            "environment.OTEL_SERVICE_NAME": service["environment"].get("OTEL_SERVICE_NAME"),
            f"environment.LTS_{s.name.upper()}_HTTP_PORT": service["environment"].get(
                f"LTS_{s.name.upper()}_HTTP_PORT"
            ),
            "ports": service.get("ports"),
        }
        wanted = {
            "build.args.SERVICE": s.name,
            "build.args.PORT": str(s.port),
            "environment.OTEL_SERVICE_NAME": f"lts-{s.name}",
            f"environment.LTS_{s.name.upper()}_HTTP_PORT": str(s.port),
            "ports": [f"{s.port}:{s.port}"],
        }
        problems += mismatches(f"{file} services.{s.name}", wanted, actual)
    return problems


def helm_values() -> list[str]:
    file = "infra/helm/lts-flow/values.yaml"
    services = read_yaml(file)["services"]
    expected = {s.name: f"services.{s.name}: {{ enabled: true, port: {s.port} }}" for s in SERVICES}
    problems = compare(file, expected, services)
    for s in SERVICES:
        if s.name in services:
            problems += mismatches(f"{file} services.{s.name}", {"port": s.port}, services[s.name])
    return problems


def helm_schema() -> list[str]:
    file = "infra/helm/lts-flow/values.schema.json"
    schema = json.loads((ROOT / file).read_text())
    properties = schema["properties"]["services"]["properties"]
    expected = {
        s.name: f'"{s.name}": {{"$ref": "#/definitions/service"}} to properties.services.properties'
        for s in SERVICES
    }
    return compare(file, expected, properties)


def prometheus() -> list[str]:
    file = "infra/prometheus/prometheus.yml"
    targets = [
        target
        for job in read_yaml(file)["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    ]
    expected = {f"{s.name}:{s.port}": f'the target "{s.name}:{s.port}"' for s in SERVICES}
    return compare(file, expected, targets)


def readme() -> list[str]:
    """The service table: `| <name> | consumes | emits | <port> | docs |`."""
    file = "README.md"
    lines = (ROOT / file).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| service | consumes |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    expected = {
        f"{s.name}:{s.port}": f"a row `| {s.name} | ... | {s.port} | ... |` to the service table"
        for s in SERVICES
    }
    return compare(file, expected, (f"{row[0]}:{row[3]}" for row in rows))


def specs() -> list[str]:
    """The host reads a service's port and settings by its `ServiceSpec.name`."""
    problems = []
    for s in SERVICES:
        file = f"services/{s.name}/src/{s.package}/main.py"
        try:
            spec = importlib.import_module(f"{s.package}.main").SPEC
        except ModuleNotFoundError:
            problems.append(f"{file}: add it, with `SPEC = ServiceSpec(name={s.name!r}, ...)`")
            continue
        problems += mismatches(file, {"SPEC.name": s.name}, {"SPEC.name": spec.name})
    return problems


CHECKS: list[Check] = [
    workspace,
    root_pyproject,
    compose,
    helm_values,
    helm_schema,
    prometheus,
    readme,
    specs,
]


@pytest.mark.parametrize("check", CHECKS, ids=[check.__name__ for check in CHECKS])
def test_every_file_names_each_registered_service(check: Check) -> None:
    problems = check()

    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_each_service_has_a_name_and_a_port_of_its_own() -> None:
    names = [s.name for s in SERVICES]
    ports = [s.port for s in SERVICES]

    assert len(set(names)) == len(names)
    assert len(set(ports)) == len(ports)
