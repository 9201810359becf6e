"""Composition root of the metrics service: the audit log consumer, the projection loop, the
Prometheus export and the analysts' API, hosted by `lts_events.service`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from lts_events.consumer import Subscriptions
from lts_events.faults import Outage, is_transient
from lts_events.service import ServiceContext, ServiceParts, ServiceSpec, serve
from lts_events.store.memory import InMemoryEventStore

from lts_metrics import api
from lts_metrics.adoption import AdoptionInbox, forget_telemetry_clients
from lts_metrics.audit import CONSUMER
from lts_metrics.audit_tables import AuditTables, InMemoryAuditTables, PostgresAuditTables
from lts_metrics.config import MetricsSettings
from lts_metrics.dashboard import dashboard_router
from lts_metrics.fresh_audits import FreshAudits
from lts_metrics.handlers import AuditLog
from lts_metrics.projector import ProjectionEngine
from lts_metrics.prometheus import PrometheusExport
from lts_metrics.queries import MetricsQueries
from lts_metrics.queries_adoption import AdoptionQueries
from lts_metrics.queries_release import ReleaseQueries
from lts_metrics.schema import ensure_schema

log = logging.getLogger(__name__)


def build(ctx: ServiceContext) -> ServiceParts:
    """The audit log consumer and the adoption inputs, on either store; on PostgreSQL also the
    analysts' API and dashboard, the projections (on the leader) and the Prometheus export (on
    every replica), built once."""
    settings = MetricsSettings()
    inbox = AdoptionInbox(ctx.store)
    forget_telemetry_clients()
    # the audit copies, handed to this process's projections once committed
    fresh = FreshAudits(ctx.database) if ctx.database is not None else None
    audit_log = AuditLog(_audit_tables(ctx, fresh), lanes=settings.audit_lanes)
    subscriptions = Subscriptions(CONSUMER, store=ctx.store)
    for topic in settings.topics:
        subscriptions.on_raw_batch(topic, audit_log.on_batch)
    subscriptions.on_raw(settings.adoption_topic, inbox.on_downloads)
    if fresh is None:  # the in-memory store of unit tests: the figures are SQL
        return ServiceParts(routers=(api.telemetry_router(inbox),), subscriptions=subscriptions)
    return _with_figures(ctx, settings, inbox, subscriptions, fresh)


def _audit_tables(ctx: ServiceContext, fresh: FreshAudits | None) -> AuditTables:
    if ctx.database is not None:
        return PostgresAuditTables(ctx.database, fresh=fresh)
    if not isinstance(ctx.store, InMemoryEventStore):
        raise RuntimeError(
            "metrics keeps its audit envelopes in PostgreSQL, or in memory next to the "
            f"in-memory store; not next to a {type(ctx.store).__name__}"
        )
    return InMemoryAuditTables(ctx.store)


def _with_figures(
    ctx: ServiceContext,
    settings: MetricsSettings,
    inbox: AdoptionInbox,
    subscriptions: Subscriptions,
    fresh: FreshAudits,
) -> ServiceParts:
    """The parts that read the audit log in SQL: the projections, the analysts' API and
    dashboard and the Prometheus export."""
    database = ctx.needs_database()  # the figures and projections are SQL
    queries = MetricsQueries(database.engine, schema=database.schema)
    adoption = AdoptionQueries(database.engine, schema=database.schema)
    release = ReleaseQueries(database.engine, schema=database.schema)
    projections = ProjectionEngine(
        database,
        database.engine,
        schema=database.schema,
        batch=settings.projection_batch,
        fresh=fresh,
    )

    async def on_start() -> None:
        async with database.engine.begin() as conn:
            await ensure_schema(
                conn,
                schema=database.schema,
                analyst_role=settings.analyst_role,
                analyst_password=settings.analyst_password,
                analyst_statement_timeout=settings.analyst_statement_timeout_seconds,
            )
        export = PrometheusExport(database.engine, schema=database.schema)
        ctx.registry.register(export)
        ctx.run_when_leading(
            lambda: projections.runner.run(idle=settings.projection_idle_seconds),
            name="projections",
        )
        ctx.run_in_background(
            _forever(
                "prometheus export",
                export.refresh,
                idle=settings.prometheus_refresh_seconds,
                always_wait=True,
            ),
            name="prometheus-export",
        )

    async def progress() -> dict[str, Any]:
        return {"projections_behind_audit_log": await projections.behind()}

    return ServiceParts(
        routers=(
            api.router(
                queries,
                ctx.authenticator,
                adoption_queries=adoption,
                release_queries=release,
                projector=projections,
            ),
            api.telemetry_router(inbox),
            dashboard_router(queries, adoption, ctx.authenticator, release=release),
        ),
        subscriptions=subscriptions,
        on_start=on_start,
        progress=progress,
    )


async def _forever(
    name: str, work: Callable[[], Awaitable[object]], *, idle: float, always_wait: bool = False
) -> None:
    """Run `work` until cancelled (when the service stops); a failure is logged and retried
    after a pause; without work to do (0 or None returned), or with `always_wait`, pause `idle`
    seconds."""
    outage = Outage(f"metrics {name}: the database", log)
    while True:
        try:
            done = await work()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if is_transient(error):
                await asyncio.sleep(max(idle, outage.failed(error)))
            else:
                log.exception("%s failed; retrying", name)
                await asyncio.sleep(max(idle, 1.0))
            continue
        outage.recovered()
        if always_wait or not done:
            await asyncio.sleep(idle)


SPEC = ServiceSpec(
    name="metrics",
    title="LTS Flow metrics: audit log, projections and analysts' API",
    build=build,
    publishes=False,  # the audit log copies others' events: relaying would duplicate them
)


def main() -> None:
    serve(SPEC)
