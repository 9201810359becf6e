"""Readings from the two analysis sources, pure: Alertmanager-style alerts (as carried by
CloudEvents on `lts.inbound.health`) and answers of Prometheus's `/api/v1/query`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from lts_events.contracts.release.rollout import (
    ROLLOUT_ID_PATTERN,
    AnalysisOutcome,
    ReadingSource,
    RolloutStarted,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lts_release.rollout.machine import Reading

# -- health alerts ------------------------------------------------------------------------

_ROLLOUT_ID = re.compile(ROLLOUT_ID_PATTERN)


class HealthAlert(BaseModel):
    """One alert of an Alertmanager webhook notification (`alerts[]`), or sent alone. Only
    the fields the analysis reads; the others are allowed and ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    fingerprint: str | None = None

    @property
    def version(self) -> str | None:
        """The `version` label when a rollout could have it as its id. Other alerts carry a
        `version` label of their own (an exporter's, any Unicode): not a rollout's, and a NUL
        in it cannot be looked up in PostgreSQL at all."""
        version = self.labels.get("version")
        return version if version is not None and _ROLLOUT_ID.fullmatch(version) else None


class MalformedHealthEvent(ValueError):
    """The CloudEvent's data is neither an Alertmanager notification nor one alert."""


def health_alerts(data: Mapping[str, Any]) -> list[HealthAlert]:
    """The alerts of an Alertmanager notification (an alert without a status takes the
    notification's) or of one alert; `MalformedHealthEvent` naming the field otherwise."""
    group = data.get("status") if isinstance(data.get("alerts"), list) else None
    raw = data["alerts"] if group is not None or "alerts" in data else [data]
    if not isinstance(raw, list) or not raw:
        raise MalformedHealthEvent("data.alerts: expected a non-empty list of alerts")
    alerts = []
    for index, item in enumerate(raw):
        try:
            alert = HealthAlert.model_validate(item)
        except ValidationError as error:
            where = ".".join(str(p) for p in error.errors()[0]["loc"])
            raise MalformedHealthEvent(
                f"data.alerts[{index}].{where}: {error.errors()[0]['msg']}"
            ) from None
        if alert.status is None:
            status = group if group in ("firing", "resolved") else "firing"
            alert = alert.model_copy(update={"status": status})
        alerts.append(alert)
    return alerts


def alert_reading(
    alert: HealthAlert, *, critical_severities: frozenset[str], now: datetime
) -> Reading:
    """A firing alert is a failed reading, a resolved one a passed reading, of the check
    named by its `alertname`; critical when its `severity` label is one of
    `critical_severities`. Debounced: Alertmanager only sends what held for the rule's `for:`."""
    name = alert.labels.get("alertname", "unnamed")
    severity = alert.labels.get("severity", "")
    firing = alert.status != "resolved"
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    channel = alert.labels.get("channel")
    detail = f"{name} {'firing' if firing else 'resolved'} (severity {severity or 'none'}"
    detail += f", channel {channel})" if channel else ")"
    return Reading(
        check=f"alert:{name}",
        source=ReadingSource.HEALTH_ALERT,
        outcome=AnalysisOutcome.FAILED if firing else AnalysisOutcome.PASSED,
        critical=severity.lower() in critical_severities,
        observed_at=min(alert.starts_at or now, now) if firing else now,
        detail=f"{detail}: {summary}" if summary else detail,
        debounced=True,
    )


# -- Prometheus ---------------------------------------------------------------------------


def render_query(template: str, *, version: str, line: str, service: str | None) -> str:
    """A PromQL template with `{{version}}`, `{{line}}` and `{{service}}` filled in (as an
    Argo AnalysisTemplate's `{{args.*}}`)."""
    return (
        template.replace("{{version}}", version)
        .replace("{{line}}", line)
        .replace("{{service}}", service or "")
    )


def query_value(body: Mapping[str, Any]) -> tuple[float | None, str]:
    """The first sample of an instant query's answer (`vector` or `scalar`), or None with
    why: an error, no series, or NaN (a rate over no requests) are all no data."""
    if body.get("status") != "success":
        return (
            None,
            f"prometheus error: {body.get('errorType', '')} {body.get('error', '')}".strip(),
        )
    data = body.get("data") or {}
    result = data.get("result")
    kind = data.get("resultType")
    sample: Any
    if kind == "scalar":
        sample = result
    elif kind == "vector" and isinstance(result, list) and result:
        sample = result[0].get("value")
    else:
        return (
            None,
            f"no data ({kind} with {len(result) if isinstance(result, list) else 0} series)",
        )
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError):
        return None, f"unreadable sample {sample!r}"
    if math.isnan(value):
        return None, "no data (NaN)"
    return value, ""


def metric_reading(
    metric: str, *, threshold: float, value: float | None, why: str, now: datetime
) -> Reading:
    """A phase threshold check: passed when `value < threshold`, inconclusive without a value."""
    if value is None:
        outcome, detail = AnalysisOutcome.INCONCLUSIVE, why
    elif value < threshold:
        outcome, detail = AnalysisOutcome.PASSED, f"{metric} {value:g} < {threshold:g}"
    else:
        outcome, detail = AnalysisOutcome.FAILED, f"{metric} {value:g} >= {threshold:g}"
    return Reading(
        check=f"metric:{metric}",
        source=ReadingSource.PROMETHEUS,
        outcome=outcome,
        critical=True,
        observed_at=now,
        value=value,
        threshold=threshold,
        detail=detail,
    )


def concerns(alert: HealthAlert, started: RolloutStarted) -> bool:
    """An alert is about a rollout when it names its version and, if both name one, its
    service."""
    service = alert.labels.get("service")
    same_service = started.service is None or service is None or service == started.service
    return alert.version == started.version and same_service
