"""Composition root: the release service as a `ServiceSpec` for the shared host.

The parts are built once (`parts.build`); routers, subscriptions and the timer handler
share them. A part plugs in by adding its handlers to `ReleaseParts`,
its subscriptions to `kafka.py`, its routers below and its timer kinds to `parts.timer_routes`."""

from __future__ import annotations

from lts_events.kafka import events_topic
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, serve

from lts_release.backports.api import build_router as build_backports_router
from lts_release.candidates.api import build_router as build_candidates_router
from lts_release.ci_api import build_ci_router
from lts_release.kafka import release_subscriptions
from lts_release.parts import build, timer_routes
from lts_release.publication.api import build_router as publication_router
from lts_release.publication.bootstrap import page_channel
from lts_release.rollout.api import build_router as rollout_router
from lts_release.staging.api import build_router as staging_router


def service_parts(context: ServiceContext) -> ServiceParts:
    """The release parts built once (`parts.build`), mounted, subscribed and timed.
    Consumer group = the service name; its own topic follows the name (isolated tests)."""
    parts = build(context)
    auth = context.authenticator
    return ServiceParts(
        routers=(
            build_backports_router(parts.backports, auth),
            build_candidates_router(parts.candidates, auth),
            rollout_router(parts.rollout, auth),
            build_ci_router(parts.ci, authenticator=auth, settings=parts.settings),
            staging_router(parts.staging, auth),
            publication_router(
                parts.publication,
                page_channel(parts.settings),
                auth,
                page_url=parts.settings.pub_page_url,
            ),
        ),
        subscriptions=release_subscriptions(
            parts,
            consumer=context.name,
            store=context.store,
            triage_topic=parts.settings.triage_topic,
            release_topic=events_topic(context.name),
            inbound_ci_topic=parts.settings.ci_inbound_topic,
        ),
        timer_handler=timer_routes(context, parts),
    )


SPEC = ServiceSpec(
    name="release",
    build=service_parts,
    title="LTS Flow release: gates, signed candidates, publication, canary and rollback",
)


def main() -> None:
    serve(SPEC)
