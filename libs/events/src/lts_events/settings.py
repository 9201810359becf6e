"""Runtime settings shared by every service host. Kafka and PostgreSQL come from the standard
`KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL`; everything else from `LTS_<SERVICE>_*`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_events.actors import Role
from lts_events.registry import service_ports

DEFAULT_PORTS = service_ports()


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, use_attribute_docstrings=True, populate_by_name=True
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
    )
    """Kafka brokers, `host:port[,host:port...]`."""
    kafka_partitions: int = Field(default=3, ge=1, validation_alias="LTS_KAFKA_PARTITIONS")
    """Partitions of the topics a service creates when they do not exist yet: the most
    consumers of one group (replicas of a service) that get work. Existing topics keep theirs
    (raise with `kafka-topics.sh --alter --partitions N`)."""
    kafka_fetch_min_bytes: int = Field(default=64 * 1024, ge=1)
    """Bytes a consumer's fetch waits for (up to `kafka_fetch_max_wait_ms`) before the broker
    answers, after a fetch that brought messages. Under load, fetches of a few messages each
    made small batches all the way down the pipeline (docs/performance.md, `pipeline_e2e`,
    2026-12-04 18:10)."""
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=0)
    """Longest a fetch waits for `kafka_fetch_min_bytes` after a fetch that brought messages:
    the most a busy topic adds to a message's way per consumer hop."""
    kafka_fetch_idle_wait_ms: int = Field(default=500, ge=0)
    """Longest a fetch waits after one that brought nothing; the broker answers at the first
    message. How often an idle consumer asks the broker: at 20 ms, an idle stack of three
    services cost 0.4 of a core (`lts_events.kafka.adapt_fetches`)."""
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias="DATABASE_URL",
    )
    """PostgreSQL, `postgresql://user[:password]@host:port/db`; each service keeps its store in a
    schema named after it."""
    http_host: str = "0.0.0.0"
    """Interface the HTTP API listens on (all of them in a container)."""
    http_port: int = 8000
    """Port of the HTTP API; default the service's own port (`lts_events/registry.py`: 8001
    intake to 8005 metrics)."""
    relay_poll_interval: float = 0.05
    """Seconds the relay waits before looking again when the store has nothing new."""
    relay_batch_size: int = 500
    """Most events the relay publishes in one round."""
    timer_interval: float = 1.0
    """Seconds between two looks for due durable timers."""
    # Chain anchors (store/anchoring.py): one every `anchor_interval` seconds when events were
    # appended since the last, or as soon as `anchor_events` were; 0 seconds: none.
    anchor_interval: float = 300.0
    """Seconds between two chain anchors when events were appended since the last; 0: none."""
    anchor_events: int = 10_000
    """Appended events after which a chain anchor is written at once (or a fiftieth of the
    events the last anchor pinned, when more: an anchor reads every stream's head)."""
    anchor_key: SecretStr | None = Field(default=None, validation_alias="LTS_ANCHOR_KEY")
    """Shared by every service and `lts store verify`; local default: `$LTS_HOME/anchor.key`."""
    leader_check_interval: float = 1.0
    """Seconds between the leader's checks that it still holds the service's lock (replicas)."""
    leader_retry_interval: float = 2.0
    """Seconds between the other replicas' tries to take the lock (relay, timers, projections)."""

    @classmethod
    def for_service(cls, name: str, **overrides: Any) -> RuntimeSettings:
        """Settings read with the env prefix `LTS_<NAME>_` (e.g. `LTS_INTAKE_HTTP_PORT`); the HTTP
        port defaults to the service's port from the table of ports."""
        settings = cls(_env_prefix=f"LTS_{name.upper()}_", **overrides)
        if "http_port" not in settings.model_fields_set:
            settings = settings.model_copy(update={"http_port": DEFAULT_PORTS.get(name, 8000)})
        return settings


class CommonSettings(BaseSettings):
    """What every process of LTS Flow reads, services and the `lts` command alike."""

    model_config = SettingsConfigDict(
        env_prefix="LTS_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    environment: str = "local"
    """`local` allows the development credentials (dev tokens, dev webhook secrets); any other
    value refuses them and requires real ones."""
    log_level: str = "INFO"
    """Level of the JSON logs on stderr; below DEBUG, chatty libraries (aiokafka...) log WARNING."""


def common_settings(environ: Mapping[str, str] | None = None) -> CommonSettings:
    """`CommonSettings` from the process's environment, or from `environ` alone when given (a
    test's, a child process's): the variable names and defaults still come from the model."""
    if environ is None:
        return CommonSettings()
    prefix = CommonSettings.model_config.get("env_prefix", "")
    fields = CommonSettings.model_fields.items()
    # Every field given explicitly, so that nothing is taken from the process environment.
    given = {name: environ.get(f"{prefix}{name}".upper(), field.default) for name, field in fields}
    return CommonSettings.model_validate(given)


class TokenEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str = Field(min_length=1, max_length=200)
    roles: list[Role]


class OidcIssuer(BaseModel):
    """One identity provider whose signed JWTs are accepted as bearer tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1, description="the exact `iss` of its tokens")
    audience: str = Field(min_length=1, description="the `aud` its tokens must name (us)")
    jwks_url: str = Field(pattern=r"^https?://", description="where its signing keys are published")
    algorithms: list[Literal["RS256", "ES256"]] = Field(default=["RS256", "ES256"], min_length=1)
    roles_claim: str = Field(
        default="roles",
        description="claim holding the roles or groups; a dotted path reaches into objects "
        "(`realm_access.roles` for Keycloak)",
    )
    role_map: dict[str, list[Role]] = Field(
        default={},
        description="claim value -> our roles; empty: a value that is one of our role names "
        "is that role",
    )
    actor_claim: str = Field(default="sub", description="claim naming the actor")
    leeway_seconds: float = Field(default=30.0, ge=0, description="clock skew allowed on exp/nbf")
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_refresh_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="least time between two JWKS fetches caused by an unknown `kid`",
    )


class AuthSettings(BaseSettings):
    """Who may call the HTTP APIs. Static tokens and OIDC issuers can be used together."""

    model_config = SettingsConfigDict(
        env_prefix="LTS_AUTH_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    tokens: dict[str, TokenEntry] = {}
    """Static bearer tokens, JSON `{"sha256:<hex of the token>": {"actor": "ci", "roles":
    ["release_manager"]}}`; a key that is not `sha256:<hex>` is a plaintext token (for
    development), hashed when loaded. Unset in the `local` environment: the dev tokens
    `dev-<role>` work."""
    oidc_issuers: list[OidcIssuer] = []
    """OIDC issuers whose JWTs are bearer tokens, JSON `[{"issuer": ..., "audience": ...,
    "jwks_url": ..., "roles_claim": "roles", "role_map": {}, "actor_claim": "sub"}]`
    (every key: README, Authentication)."""
