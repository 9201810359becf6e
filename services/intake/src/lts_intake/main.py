"""Composition root: the intake service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lts_events.consumer import Subscriptions
from lts_events.projection import ProjectionRunner
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, serve
from lts_events.store.memory import InMemoryEventStore

from lts_intake.api import build_router
from lts_intake.config import Settings
from lts_intake.gitinfo import git_lookup
from lts_intake.handlers import Intake
from lts_intake.kafka import INBOUND_ALERTS, alert_batch_handler
from lts_intake.memory import InMemoryIntakeTables, InMemoryReleaseTable
from lts_intake.releases import RecentReleases, SqlReleaseTable
from lts_intake.repository import PostgresIntakeTables
from lts_intake.tables import IntakeTables, ReleaseTable

TICKET_VIEWS = "intake.tickets"
"""The ticket views' projection (its checkpoint's name)."""


def build(context: ServiceContext) -> ServiceParts:
    """One intake shell shared by the HTTP inputs and the alert consumer."""
    settings = Settings()
    storage = _storage(context)
    releases = RecentReleases(storage.releases)
    intake = Intake(
        store=context.store,
        tables=storage.tables,
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
        await storage.tables.create_tables()
        await storage.releases.create_tables()
        if storage.views is not None:
            views = storage.views
            await views.catch_up()
            context.run_when_leading(lambda: views.run(idle=0.5), name="ticket-views")

    return ServiceParts(
        routers=(
            build_router(
                intake=intake,
                repository=storage.tables,
                authenticator=context.authenticator,
                settings=settings,
            ),
        ),
        subscriptions=subscriptions,
        on_start=on_start,
    )


@dataclass(frozen=True)
class _Storage:
    tables: IntakeTables
    releases: ReleaseTable
    views: ProjectionRunner | None  # the ticket views' projection; None: folded when read


def _storage(context: ServiceContext) -> _Storage:
    """Intake's tables next to the context's store: PostgreSQL's, written in the appends'
    transactions, or (on the in-memory store of unit tests) the same rules in memory."""
    database = context.database
    if database is not None:
        tables = PostgresIntakeTables(database)
        views = ProjectionRunner(
            database, TICKET_VIEWS, tables.repository.catch_up_within, read=tables.fresh.read
        )
        return _Storage(tables, SqlReleaseTable(database.engine, schema=database.schema), views)
    store = context.store
    if not isinstance(store, InMemoryEventStore):
        raise RuntimeError(
            "intake keeps its tables in PostgreSQL, or in memory next to the in-memory store; "
            f"not next to a {type(store).__name__}"
        )
    return _Storage(InMemoryIntakeTables(store), InMemoryReleaseTable(context.clock), None)


SPEC = ServiceSpec(
    name="intake",
    build=build,
    title="LTS Flow intake: reports, alerts, advisories and tracker issues become tickets",
)


def main() -> None:
    serve(SPEC)
