"""The DORA keys' performance buckets (pure). The report's clusters (Accelerate State of DevOps)
as thresholds, read the way Apache DevLake's DORA dashboard reads them:

| key | elite | high | medium | low |
|---|---|---|---|---|
| deployment frequency | >= 1 per day (on demand) | >= 1 per week | >= 1 per month | less |
| lead time for changes (median) | < 1 day | < 1 week | < 1 month (30 d) | longer |
| change failure rate | <= 5 % | <= 10 % | <= 15 % | more |
| failed deployment recovery time (median) | < 1 hour | < 1 day | < 1 week | longer |

No data gives no bucket (None)."""

from __future__ import annotations

HOUR, DAY = 3600.0, 86_400.0
ORDER = ("elite", "high", "medium", "low")


def frequency_bucket(deployments_per_day: float | None) -> str | None:
    if deployments_per_day is None:
        return None
    for bucket, at_least in (("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30)):
        if deployments_per_day >= at_least:
            return bucket
    return "low"


def _below(value: float | None, limits: tuple[float, float, float]) -> str | None:
    if value is None:
        return None
    for bucket, limit in zip(ORDER, limits, strict=False):
        if value < limit:
            return bucket
    return "low"


def lead_time_bucket(median_seconds: float | None) -> str | None:
    return _below(median_seconds, (DAY, 7 * DAY, 30 * DAY))


def recovery_bucket(median_seconds: float | None) -> str | None:
    return _below(median_seconds, (HOUR, DAY, 7 * DAY))


def change_failure_bucket(rate_pct: float | None) -> str | None:
    if rate_pct is None:
        return None
    for bucket, at_most in (("elite", 5.0), ("high", 10.0), ("medium", 15.0)):
        if rate_pct <= at_most:
            return bucket
    return "low"
