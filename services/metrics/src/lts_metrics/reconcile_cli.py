"""`lts audit reconcile`: every producer's event store against the metrics audit log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Annotated

import asyncpg
import typer
from lts_events.dlq.replay import OPS_SCHEMA
from lts_events.infra import Found
from lts_events.reach import UNREACHABLE, running_stack
from lts_events.store import inspect

from lts_metrics.audit import CONSUMER, service_of
from lts_metrics.config import MetricsSettings
from lts_metrics.reconcile import ServiceReport
from lts_metrics.reconcile_io import (
    CONNECT_TIMEOUT_S,
    AuditLogAt,
    Offsets,
    Unreachable,
    audited_services,
    reconcile_all,
    unreachable,
)

app = typer.Typer(
    help="Audit completeness: the stores against the audit log.", no_args_is_help=True
)

NOT_PUBLISHED = {OPS_SCHEMA: "the `lts dlq replay` records are not published, so never audited"}
"""Event stores that are not relayed to Kafka: nothing of theirs is expected in the audit log."""


@app.callback()
def audit() -> None:
    """Audit completeness: the stores against the audit log."""


Services = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        help="A producer (its store is the schema of that name); repeatable. Default: every "
        "service whose topic the metrics service audits, plus any the audit log names.",
        show_default=False,
    ),
]


@app.command()
def reconcile(
    service: Services = None,
    audit_schema: Annotated[str, typer.Option(help="The metrics service's schema.")] = "metrics",
    group: Annotated[str, typer.Option(help="The audit consumer's group.")] = CONSUMER,
    namespace: Annotated[
        str, typer.Option(help="Prefix of topics and consumer group (isolated test runs).")
    ] = "",
    settle: Annotated[
        float,
        typer.Option(min=0, help="Seconds to wait for events in flight to be audited."),
    ] = 10.0,
    show: Annotated[int, typer.Option(min=0, help="Events named per list in the table.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Every fact, as JSON.")] = False,
) -> None:
    """Compare each producer's stored events with the audit log by event id, per stream.
    Exit 1 when an event is missing (stored, relayed, consumed, not audited) or phantom
    (audited, in no store); events still in flight after --settle are reported, not failed."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("asyncpg").setLevel(logging.CRITICAL)
    refused = [s for s in service or () if s in NOT_PUBLISHED or s == audit_schema]
    if refused:
        raise typer.BadParameter(
            f"not a published store: {', '.join(refused)}", param_hint="--service"
        )
    kafka, postgres = running_stack()
    audit = AuditLogAt(audit_schema, f"{namespace}{group}", namespace)
    try:
        reports = asyncio.run(_run(kafka, postgres, audit, service, settle))
    except Unreachable as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        typer.echo(render(reports, show=show))
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg="red")
    return typer.Exit(UNREACHABLE)


async def _run(
    kafka: Found,
    postgres: Found,
    audit: AuditLogAt,
    services: Sequence[str] | None,
    settle: float,
) -> list[ServiceReport]:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            conn = await asyncpg.connect(postgres.address)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise unreachable("PostgreSQL", postgres, error) from error
    try:
        chosen = await _services(conn, audit, services)
        async with Offsets(kafka) as offsets:
            return await reconcile_all(conn, offsets, audit, chosen, settle=settle)
    finally:
        await conn.close()


async def _services(
    conn: asyncpg.Connection, audit: AuditLogAt, given: Sequence[str] | None
) -> list[str]:
    if given:
        return list(dict.fromkeys(given))
    configured = [service_of(topic) for topic in MetricsSettings().topics]
    named = await audited_services(conn, audit)
    return [
        s
        for s in dict.fromkeys([*configured, *named])
        if s not in NOT_PUBLISHED and s != audit.schema and await _exists(conn, s, named)
    ]


async def _exists(conn: asyncpg.Connection, service: str, named: Sequence[str]) -> bool:
    """Worth reporting: it has a store here, or the audit log holds copies of its events."""
    return service in named or await inspect.has_store(conn, service)


def render(reports: Sequence[ServiceReport], *, show: int) -> str:
    lines: list[str] = []
    for r in reports:
        verdict = typer.style("ok", fg="green") if r.ok else typer.style("FAILED", fg="red")
        lines.append(
            f"{r.service}: {r.stored} stored, {r.audited} audited, {r.matched} matched, "
            f"{len(r.in_flight)} in flight, {len(r.missing)} missing, {len(r.phantoms)} "
            f"phantom, in {r.streams} streams: {verdict}"
        )
        if r.note:
            lines.append(f"  {r.note}")
        if r.differing:
            lines.append(
                f"  {'stream':<40} {'stored':>7} {'audited':>7} {'missing':>7} {'phantom':>7} "
                f"{'flying':>7}"
            )
            for c in r.differing[:show]:
                lines.append(
                    f"  {c.stream_id:<40} {c.stored:>7} {c.audited:>7} {c.missing:>7} "
                    f"{c.phantom:>7} {c.in_flight:>7}"
                )
            lines += _more(len(r.differing), show, "streams")
        for e in r.missing[:show]:
            lines.append(f"  missing {e.event_id} {e.stream_id} v{e.stream_version} {e.type}")
        lines += _more(len(r.missing), show, "missing events")
        for a in r.phantoms[:show]:
            version = "" if a.stream_version is None else f" v{a.stream_version}"
            lines.append(f"  phantom {a.event_id} {a.stream_id}{version} {a.type}")
        lines += _more(len(r.phantoms), show, "phantom events")
    for schema, why in NOT_PUBLISHED.items():
        lines.append(f"{schema}: not compared ({why})")
    return "\n".join(lines)


def _more(total: int, shown: int, what: str) -> list[str]:
    return [f"  ... and {total - shown} more {what} (--json lists all)"] if total > shown else []
