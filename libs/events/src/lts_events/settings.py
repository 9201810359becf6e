"""Runtime settings shared by every service host. Kafka and PostgreSQL come from the standard
`KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL`; everything else from `LTS_<SERVICE>_*`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"intake": 8001, "triage": 8002, "release": 8003, "comms": 8004, "metrics": 8005}


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias="DATABASE_URL",
    )
    http_host: str = "0.0.0.0"  # a container listens on all interfaces
    http_port: int = 8000
    relay_poll_interval: float = 0.05
    relay_batch_size: int = 500
    timer_interval: float = 1.0
    # Chain anchors (store/anchoring.py): one every `anchor_interval` seconds when events were
    # appended since the last, or as soon as `anchor_events` were; 0 seconds: none.
    anchor_interval: float = 300.0
    anchor_events: int = 10_000
    anchor_key: SecretStr | None = Field(default=None, validation_alias="LTS_ANCHOR_KEY")
    """Shared by every service and `lts store verify`; local default: `$LTS_HOME/anchor.key`."""

    @classmethod
    def for_service(cls, name: str, **overrides: Any) -> RuntimeSettings:
        """Settings read with the env prefix `LTS_<NAME>_` (e.g. `LTS_INTAKE_HTTP_PORT`); the HTTP
        port defaults to the service's port from the table of ports."""
        settings = cls(_env_prefix=f"LTS_{name.upper()}_", **overrides)
        if "http_port" not in settings.model_fields_set:
            settings = settings.model_copy(update={"http_port": DEFAULT_PORTS.get(name, 8000)})
        return settings
