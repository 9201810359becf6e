"""Composition root: the intake service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fastapi import APIRouter
from lts_events.consumer import Subscriptions
from lts_events.projection import ProjectionRunner
from lts_events.service import ServiceContext, ServiceSpec, serve

from lts_intake.api import build_router
from lts_intake.config import Settings
from lts_intake.gitinfo import git_lookup
from lts_intake.handlers import Intake
from lts_intake.kafka import INBOUND_ALERTS, alert_batch_handler
from lts_intake.releases import RecentReleases
from lts_intake.repository import IntakeRepository

TICKET_VIEWS = "intake.tickets"
"""The ticket views' projection (its checkpoint's name)."""

_PARTS: dict[int, tuple[Intake, IntakeRepository, RecentReleases]] = {}


def parts(context: ServiceContext) -> tuple[Intake, IntakeRepository, RecentReleases]:
    """One shell per running service (the builders below share it)."""
    key = id(context.store)
    if key not in _PARTS:
        settings = Settings()
        repository = IntakeRepository(context.store.engine, schema=context.store.schema)
        releases = RecentReleases(context.store.engine, schema=context.store.schema)
        intake = Intake(
            store=context.store,
            repository=repository,
            clock=context.clock,
            policy=settings.policy(),
            releases=releases.recent,
            git=git_lookup(settings.git_repo_path),
            regression_window=timedelta(hours=settings.regression_window_hours),
        )
        _PARTS[key] = (intake, repository, releases)
    return _PARTS[key]


def routers(context: ServiceContext) -> Sequence[APIRouter]:
    intake, repository, _ = parts(context)
    return (
        build_router(
            intake=intake,
            repository=repository,
            authenticator=context.authenticator,
            settings=Settings(),
        ),
    )


def subscriptions(context: ServiceContext) -> Subscriptions:
    intake, _, releases = parts(context)
    settings = Settings()
    renamed = {INBOUND_ALERTS: settings.inbound_alerts_topic}
    subs = Subscriptions(
        context.name,
        store=context.store,
        topics=renamed,
    )
    subs.on_raw_batch(INBOUND_ALERTS, alert_batch_handler(intake))
    subs.on_raw(settings.release_topic, releases.on_release_message)
    return subs


async def on_start(context: ServiceContext) -> None:
    """Create the intake tables and bring the ticket read model up to date with the store (the
    request and message paths then update it as they append; the projection catches up after a
    crash between an append and its view update, or when the barrier held events back)."""
    _, repository, releases = parts(context)
    await repository.create_tables()
    await releases.create_tables()
    views = ProjectionRunner(context.store, TICKET_VIEWS, repository.apply_within)
    await views.catch_up()
    context.run_when_leading(lambda: views.run(idle=0.5), name="ticket-views")


SPEC = ServiceSpec(
    name="intake",
    routers=routers,
    subscriptions=subscriptions,
    on_start=on_start,
    title="LTS Flow intake: reports, alerts, advisories and tracker issues become tickets",
)


def main() -> None:
    serve(SPEC)
