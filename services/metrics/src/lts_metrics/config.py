"""Settings of the metrics service (env prefix `LTS_METRICS_`)."""

from __future__ import annotations

from lts_events.kafka import events_topic
from lts_events.registry import SERVICES
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every other service's events: metrics' own store is an audit log, never published.
KNOWN_TOPICS = tuple(
    events_topic(service.name) for service in SERVICES if service.name != "metrics"
)


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LTS_METRICS_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    topics: tuple[str, ...] = KNOWN_TOPICS
    """Every `lts.<service>.events` topic to audit: by default the events topic of every other
    service in `lts_events/registry.py`. A list, not a pattern subscription, so that a topic
    of the same shape that is not a service's (a test's, another system's) is never audited."""
    adoption_topic: str = "lts.inbound.adoption"
    """Topic of the package channel's download counts (CloudEvents: package, version, count,
    time)."""
    analyst_role: str = "lts_analyst"
    """PostgreSQL role that may read the analysts' `v_*` views and nothing else."""
    analyst_password: str | None = None
    """Unset: the analyst role is NOLOGIN (granted to people's own roles); set: it can log in."""
    analyst_statement_timeout_seconds: int = 30
    """`statement_timeout` of the analyst role's sessions (a BI tool's runaway query stops)."""
    audit_lanes: int = Field(default=2, ge=1)
    """Transactions an audit batch is written in at once, its streams shared out among them
    (100 events each at least): one waiting for PostgreSQL while the next is chained."""
    projection_batch: int = 1000
    """Most audit-log events applied to the projections in one transaction."""
    projection_idle_seconds: float = 0.2
    """Seconds the projections wait before looking again when the audit log has nothing new."""
    prometheus_refresh_seconds: float = 5.0
    """Seconds between two refreshes of the process figures exported on `/metrics`."""
