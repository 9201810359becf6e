"""The rollout part's bootstrap: its handlers from the host's context and settings, and the
timer kinds it answers."""

from __future__ import annotations

from datetime import timedelta

from lts_events.service import ServiceContext

from lts_release.config import Settings
from lts_release.rollout.channels import NoChannels, RollbackChannels
from lts_release.rollout.handlers import (
    ANALYSIS_DUE,
    PHASE_DUE,
    ROLLBACK_ATTEMPT,
    ROLLBACK_DEADLINE,
    RolloutHandlers,
)
from lts_release.rollout.prometheus import Prometheus
from lts_release.timers import TimerRoutes


def rollout_handlers(
    context: ServiceContext, settings: Settings, channels: RollbackChannels | None = None
) -> RolloutHandlers:
    url = settings.rollout_prometheus_url
    return RolloutHandlers(
        context.store,
        policy=settings.rollout_policy(),
        clock=context.clock,
        channels=channels or NoChannels(),
        consumer=context.name,
        prometheus=Prometheus(url, timeout=settings.rollout_prometheus_timeout_seconds)
        if url
        else None,
        queries=settings.rollout_prometheus_queries,
        analysis_interval=timedelta(seconds=settings.rollout_analysis_interval_seconds),
    )


def route_rollout_timers(routes: TimerRoutes, handlers: RolloutHandlers) -> None:
    routes.on(PHASE_DUE, handlers.on_phase_due)
    routes.on(ANALYSIS_DUE, handlers.on_analysis_due)
    routes.on(ROLLBACK_ATTEMPT, handlers.on_rollback_attempt)
    routes.on(ROLLBACK_DEADLINE, handlers.on_rollback_deadline)
