"""Kafka and PostgreSQL in Docker through testcontainers, used when a Docker engine answers."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lts_events.infra import state

KAFKA_IMAGE = "confluentinc/cp-kafka:8.1.0"  # Apache Kafka 4.1 (testcontainers' KRaft setup)
POSTGRES_IMAGE = "postgres:18"
PING = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"

_KEEP_ALIVE: list[Any] = []
"""Containers started by this process for its own lifetime (Ryuk removes them at exit)."""


def _candidates() -> list[str]:
    if os.environ.get("DOCKER_HOST"):
        return [os.environ["DOCKER_HOST"]]
    sockets = [Path("/var/run/docker.sock"), Path.home() / ".docker" / "run" / "docker.sock"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        sockets.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "docker.sock")
    return [f"unix://{path}" for path in sockets if path.exists()]


def docker_answers(*, timeout: float = 0.5) -> bool:
    """A cheap check: does a Docker engine answer `/_ping` (DOCKER_HOST or a usual socket)?
    A socket found elsewhere than the default is exported as DOCKER_HOST for testcontainers."""
    for host in _candidates():
        if _ping(host, timeout=timeout):
            if host != "unix:///var/run/docker.sock":
                os.environ.setdefault("DOCKER_HOST", host)
            return True
    return False


def _ping(host: str, *, timeout: float) -> bool:
    parsed = urlparse(host)
    try:
        if parsed.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(parsed.path)
                return _pinged(sock)
        if parsed.scheme in {"tcp", "http"} and parsed.hostname:
            with socket.create_connection((parsed.hostname, parsed.port or 2375), timeout) as sock:
                return _pinged(sock)
    except OSError:
        return False
    return False


def _pinged(sock: socket.socket) -> bool:
    sock.sendall(PING)
    return sock.recv(64).split(b"\r\n", 1)[0].endswith(b"200 OK")


def _persistent(keep: bool) -> None:
    """Containers meant to outlive this process must not be reaped by Ryuk."""
    if keep:
        from testcontainers.core.config import testcontainers_config

        testcontainers_config.ryuk_disabled = True


def _record(component: str, container: Any, keep: bool, **details: object) -> None:
    if keep:
        container_id = container.get_wrapped_container().id
        state.save(f"{component}-container", {"container_id": container_id, **details})
    else:
        _KEEP_ALIVE.append(container)


def start_kafka(*, keep: bool) -> str:
    from testcontainers.community.kafka import KafkaContainer

    _persistent(keep)
    kafka = KafkaContainer(KAFKA_IMAGE).with_kraft()
    kafka.with_env("KAFKA_NUM_PARTITIONS", "3")
    kafka.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
    kafka.start(timeout=120)
    bootstrap: str = kafka.get_bootstrap_server()
    _record("kafka", kafka, keep, bootstrap=bootstrap)
    return bootstrap


def start_postgres(*, keep: bool) -> str:
    from testcontainers.community.postgres import PostgresContainer

    _persistent(keep)
    postgres = PostgresContainer(POSTGRES_IMAGE, driver=None).with_command(
        "postgres -c max_connections=300 -c idle_in_transaction_session_timeout=60s"
    )
    postgres.start()
    url: str = postgres.get_connection_url(driver=None)
    _record("postgres", postgres, keep, url=url)
    return url


def running(component: str) -> str | None:
    """The address of a container started earlier by `lts infra up` that still runs."""
    recorded = state.load(f"{component}-container")
    if recorded is None or "container_id" not in recorded or not docker_answers():
        return None
    import docker

    try:
        container = docker.from_env().containers.get(recorded["container_id"])
    except Exception:
        return None
    if container.status != "running":
        return None
    address = recorded.get("bootstrap") or recorded.get("url")
    return str(address) if address else None


def stop(component: str) -> bool:
    recorded = state.load(f"{component}-container")
    if recorded is None or "container_id" not in recorded:
        return False
    import docker

    try:
        docker.from_env().containers.get(recorded["container_id"]).remove(force=True, v=True)
    except Exception:
        return False
    finally:
        state.forget(f"{component}-container")
    return True
