"""Every service of LTS Flow, in one table: its name and HTTP port, in pipeline order.

The ports of the settings and of the local stack, and the topics metrics audits, are derived
from it; the files tools read without Python (root pyproject.toml and its import-linter lists,
docker-compose.yml, the Helm values and schema, prometheus.yml, the README's service table) are
checked against it by tests/test_service_registry.py, which names the file and line to add.

A table in the shared library rather than entry points in each service's pyproject: a service
image installs its own package only (infra/service.Dockerfile), so the metrics container could
not discover the other services' topics from installed metadata; `lts_events` is in every image."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # package `lts_<name>`, settings `LTS_<NAME>_*`, topic `lts.<name>.events`
    port: int  # its HTTP port, unless `LTS_<NAME>_HTTP_PORT` says otherwise

    @property
    def package(self) -> str:
        return f"lts_{self.name}"


# Pipeline order: the order `lts stack up` and `make dev` start the installed services.
SERVICES = (
    ServiceInfo("intake", 8001),
    ServiceInfo("triage", 8002),
    ServiceInfo("release", 8003),
    ServiceInfo("comms", 8004),
    ServiceInfo("metrics", 8005),
)


def service_ports() -> dict[str, int]:
    """Each service's HTTP port by name, in pipeline order."""
    return {service.name: service.port for service in SERVICES}
