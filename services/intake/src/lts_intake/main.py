"""Composition root: the intake service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from datetime import timedelta

from lts_events.consumer import Subscriptions
from lts_events.projection import ProjectionRunner
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, serve

from lts_intake.api import build_router
from lts_intake.config import Settings
from lts_intake.gitinfo import git_lookup
from lts_intake.handlers import Intake
from lts_intake.kafka import INBOUND_ALERTS, alert_batch_handler
from lts_intake.releases import RecentReleases
from lts_intake.repository import IntakeRepository

TICKET_VIEWS = "intake.tickets"
"""The ticket views' projection (its checkpoint's name)."""


def build(context: ServiceContext) -> ServiceParts:
    """One intake shell shared by the HTTP inputs and the alert consumer."""
    settings = Settings()
    database = context.needs_database()  # claims and ticket views commit with the appends
    repository = IntakeRepository(database.engine, schema=database.schema)
    releases = RecentReleases(database.engine, schema=database.schema)
    intake = Intake(
        store=database,
        repository=repository,
        clock=context.clock,
        policy=settings.policy(),
        releases=releases.recent,
        git=git_lookup(settings.git_repo_path),
        regression_window=timedelta(hours=settings.regression_window_hours),
    )
    subscriptions = Subscriptions(
        context.name,
        store=context.store,
        topics={INBOUND_ALERTS: settings.inbound_alerts_topic},
    )
    subscriptions.on_raw_batch(INBOUND_ALERTS, alert_batch_handler(intake))
    subscriptions.on_raw(settings.release_topic, releases.on_release_message)

    async def on_start() -> None:
        """Create the intake tables and bring the ticket read model up to date with the store
        (the request and message paths then update it as they append; the projection catches
        up after a crash between an append and its view update, or when the barrier held
        events back)."""
        await repository.create_tables()
        await releases.create_tables()
        views = ProjectionRunner(database, TICKET_VIEWS, repository.apply_within)
        await views.catch_up()
        context.run_when_leading(lambda: views.run(idle=0.5), name="ticket-views")

    return ServiceParts(
        routers=(
            build_router(
                intake=intake,
                repository=repository,
                authenticator=context.authenticator,
                settings=settings,
            ),
        ),
        subscriptions=subscriptions,
        on_start=on_start,
    )


SPEC = ServiceSpec(
    name="intake",
    build=build,
    title="LTS Flow intake: reports, alerts, advisories and tracker issues become tickets",
)


def main() -> None:
    serve(SPEC)
