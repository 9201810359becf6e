"""Bootstrap: the release service's parts built from the host's context, one function.

Each part (core backports and candidates, CI, staging, publication, rollout) adds its handlers
as a field here; `kafka.py` subscribes them, `main.py` mounts their routers, and `timer_routes`
routes their timers."""

from __future__ import annotations

from dataclasses import dataclass

from lts_events.service import ServiceContext

from lts_release.backports.handlers import RELEASE_SLA_TIMER, BackportHandlers
from lts_release.candidates.handlers import CandidateHandlers
from lts_release.candidates.index import LineIndex
from lts_release.ci.gates import GateMap
from lts_release.ci.recorder import CiRecorder
from lts_release.config import Settings
from lts_release.publication.bootstrap import build_publication
from lts_release.publication.rollback import PublicationRollback
from lts_release.publication.service import Publication
from lts_release.rollout.handlers import RolloutHandlers
from lts_release.rollout.wiring import rollout_handlers, route_rollout_timers
from lts_release.staging.bootstrap import build_staging
from lts_release.staging.service import Staging
from lts_release.timers import TimerRoutes


@dataclass(frozen=True)
class ReleaseParts:
    settings: Settings
    backports: BackportHandlers
    line_index: LineIndex
    candidates: CandidateHandlers
    rollout: RolloutHandlers
    ci: CiRecorder
    staging: Staging
    publication: Publication


def build(context: ServiceContext) -> ReleaseParts:
    settings = Settings()
    staging = build_staging(settings, context.store, context.clock)
    publication = build_publication(settings, context.store, staging.blobs, context.clock)
    return ReleaseParts(
        settings=settings,
        backports=BackportHandlers(
            context.store,
            policy=settings.backport_policy(),
            clock=context.clock,
            consumer=context.name,
        ),
        line_index=LineIndex(context.store),
        candidates=CandidateHandlers(
            context.store,
            clock=context.clock,
            lines=settings.lines(),
            baselines=settings.released_baselines(),
        ),
        rollout=rollout_handlers(context, settings, PublicationRollback(publication)),
        ci=CiRecorder(
            context.store,
            gates=GateMap.of(settings.ci_gate_patterns),
            policy=settings.ci_report_policy(),
            clock=context.clock,
        ),
        staging=staging,
        publication=publication,
    )


def timer_routes(context: ServiceContext, parts: ReleaseParts) -> TimerRoutes:
    routes = TimerRoutes(context.store)
    routes.on(RELEASE_SLA_TIMER, parts.backports.on_release_sla)
    route_rollout_timers(routes, parts.rollout)
    return routes
