"""`lts dlq`: list dead-lettered messages and replay them to their source topic."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from lts_events.actors import Actor, Role
from lts_events.dlq.messages import (
    DeadLetterRecord,
    DlqRef,
    Replay,
    ReplayPlan,
    Selection,
    parse_moment,
    plan_replay,
    select,
)
from lts_events.dlq.table import as_json, render_table
from lts_events.infra import Found, NotRunning, find_running_stack
from lts_events.kafka import DLQ_TOPIC

if TYPE_CHECKING:
    from lts_events.dlq.replay import ReplayReport

app = typer.Typer(
    help="The dead-letter topic: what failed and why; replay what was fixed.", no_args_is_help=True
)

Topics = Annotated[
    list[str] | None, typer.Option("--topic", help="Source topic (repeatable).", show_default=False)
]
Reasons = Annotated[
    list[str] | None,
    typer.Option(
        "--reason", help="dlq_reason, e.g. retries_exhausted (repeatable).", show_default=False
    ),
]
Consumers = Annotated[
    list[str] | None,
    typer.Option(
        "--consumer", help="Consumer group that gave up (repeatable).", show_default=False
    ),
]
Since = Annotated[
    str | None,
    typer.Option(help="Failed at or after: ISO 8601 (UTC if no offset) or 90m, 2h, 3d ago."),
]
Until = Annotated[str | None, typer.Option(help="Failed before: same forms as --since.")]
Pending = Annotated[bool, typer.Option("--pending", help="Only messages never replayed.")]
DlqTopic = Annotated[str, typer.Option("--dlq-topic", help="The dead-letter topic.")]
OpsSchema = Annotated[
    str, typer.Option("--schema", help="PostgreSQL schema of the replay audit events.")
]


def _fail(message: str, *, code: int = 2) -> typer.Exit:
    typer.secho(message, err=True, fg="red")
    return typer.Exit(code)


def _selection(
    refs: Sequence[str],
    topics: Sequence[str] | None,
    reasons: Sequence[str] | None,
    consumers: Sequence[str] | None,
    since: str | None,
    until: str | None,
    pending: bool,
) -> Selection:
    now = datetime.now(UTC)
    try:
        return Selection(
            refs=frozenset(DlqRef.parse(ref) for ref in refs),
            topics=frozenset(topics or ()),
            reasons=frozenset(reasons or ()),
            consumers=frozenset(consumers or ()),
            since=parse_moment(since, now=now) if since else None,
            until=parse_moment(until, now=now) if until else None,
            pending_only=pending,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _locate() -> tuple[Found, Found]:
    """Kafka and PostgreSQL as `lts infra up` would find them, or exit naming what was tried.
    aiokafka's own log lines are silenced: a failure is reported once, in one line."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return find_running_stack()
    except NotRunning as error:
        raise _fail(str(error)) from None


@app.command("list")
def list_messages(
    topic: Topics = None,
    reason: Reasons = None,
    consumer: Consumers = None,
    since: Since = None,
    until: Until = None,
    pending: Pending = False,
    as_json_: Annotated[bool, typer.Option("--json", help="One JSON array, every fact.")] = False,
    dlq_topic: DlqTopic = DLQ_TOPIC,
    schema: OpsSchema = "ops",
) -> None:
    """The dead-lettered messages, oldest failure first, with why they failed and their replays."""
    selection = _selection((), topic, reason, consumer, since, until, pending)
    kafka, postgres = _locate()
    from lts_events.dlq.replay import Unreachable, ops_store, read_dead_letters, recorded_replays

    async def load() -> tuple[list[DeadLetterRecord], dict[DlqRef, list[Replay]]]:
        records = await read_dead_letters(kafka, dlq_topic)
        async with ops_store(postgres, schema=schema) as store:
            replays = await recorded_replays(store, dlq_topic, [r.ref for r in records])
        return select(records, selection, replays), replays

    try:
        selected, replays = asyncio.run(load())
    except Unreachable as error:
        raise _fail(str(error)) from None
    if as_json_:
        typer.echo(json.dumps([as_json(r, replays.get(r.ref, [])) for r in selected], indent=2))
        return
    typer.echo(render_table(selected, replays))
    typer.secho(f"{len(selected)} of the messages in {dlq_topic}", err=True, fg="cyan")


@app.command("replay")
def replay_messages(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="DLQ references PARTITION:OFFSET (as `lts dlq list` shows them).",
            show_default=False,
        ),
    ] = None,
    topic: Topics = None,
    reason: Reasons = None,
    consumer: Consumers = None,
    since: Since = None,
    until: Until = None,
    pending: Pending = False,
    all_: Annotated[
        bool, typer.Option("--all", help="Select every message (no filter given).")
    ] = False,
    force: Annotated[bool, typer.Option(help="Replay messages replayed before, again.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed.")
    ] = False,
    by: Annotated[str | None, typer.Option(help="Who replays (default: the login name).")] = None,
    note: Annotated[str | None, typer.Option(help="Why, recorded with each replay.")] = None,
    dlq_topic: DlqTopic = DLQ_TOPIC,
    schema: OpsSchema = "ops",
) -> None:
    """Send selected messages back to their source topic with their original key, value and
    headers (minus `dlq_*`). A message replayed before is refused unless --force; consumers
    that processed a message skip it (its ce_id is kept). Exit 1 when a message named by
    reference was not replayed."""
    selection = _selection(refs or (), topic, reason, consumer, since, until, pending)
    if not selection.narrows and not all_:
        raise _fail("name messages (PARTITION:OFFSET) or filters, or pass --all", code=1)
    actor = Actor(id=by or getpass.getuser(), role=Role.SRE)
    kafka, postgres = _locate()
    from lts_events.dlq.replay import (
        Unreachable,
        ops_store,
        read_dead_letters,
        recorded_replays,
        replay,
    )

    async def run() -> tuple[ReplayPlan, ReplayReport | None, set[DlqRef]]:
        records = await read_dead_letters(kafka, dlq_topic)
        async with ops_store(postgres, schema=schema) as store:
            replays = await recorded_replays(store, dlq_topic, [r.ref for r in records])
            plan = plan_replay(select(records, selection, replays), replays, force=force)
            if dry_run:
                return plan, None, {r.ref for r in records}
            report = await replay(
                plan,
                kafka=kafka,
                store=store,
                dlq_topic=dlq_topic,
                actor=actor,
                note=note,
                force=force,
            )
            return plan, report, {r.ref for r in records}

    try:
        plan, report, present = asyncio.run(run())
    except Unreachable as error:
        raise _fail(str(error)) from None
    _print_replay(plan, report)
    missing = sorted(selection.refs - present)
    for ref in missing:
        typer.secho(f"missing  {ref}: no such message in {dlq_topic}", err=True, fg="red")
    named_not_sent = [r for r, _ in plan.refused + plan.unreplayable if r.ref in selection.refs]
    if missing or named_not_sent:
        raise typer.Exit(1)


def _print_replay(plan: ReplayPlan, report: ReplayReport | None) -> None:
    if report is None:
        for record in plan.send:
            typer.echo(f"would replay {record.ref} -> {record.source_topic} ({_about(record)})")
    else:
        for record, landed in report.sent:
            typer.echo(
                f"replayed {record.ref} -> {record.source_topic} {landed} ({_about(record)})"
            )
        for record in report.raced:
            typer.secho(
                f"replayed {record.ref} -> {record.source_topic}, but another run recorded its "
                "replay first (consumers skip the duplicate)",
                fg="yellow",
            )
    for record, last in plan.refused:
        typer.secho(
            f"refused  {record.ref}: replayed {last.at:%Y-%m-%d %H:%M:%S} by {last.by} "
            "(--force replays it again)",
            err=True,
            fg="yellow",
        )
    for record, why in plan.unreplayable:
        typer.secho(f"refused  {record.ref}: {why}", err=True, fg="yellow")
    sent = len(plan.send) if report is None else len(report.sent) + len(report.raced)
    verb = "would replay" if report is None else "replayed"
    typer.secho(
        f"{verb} {sent}, refused {len(plan.refused) + len(plan.unreplayable)}",
        err=True,
        fg="cyan",
    )


def _about(record: DeadLetterRecord) -> str:
    return f"id {record.message_id or '-'}, {record.reason}"
