"""`lts dlq`'s pure part: reading the consumer's DLQ facts, selecting messages by filter and
deciding which may be replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lts_events.cli import app
from lts_events.consumer import EXHAUSTED, PERMANENT, DeadLetter, RawMessage, dlq_headers
from lts_events.dlq.messages import (
    DeadLetterRecord,
    DlqRef,
    Replay,
    Selection,
    parse_moment,
    plan_replay,
    select,
)
from lts_events.dlq.table import as_json, render_table
from typer.testing import CliRunner

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORIGINAL = (("ce_id", b"evt-1"), ("ce_type", b"lts.intake.ticket_opened"), ("x-trace", b"t"))


def dead_letter(
    ref: str,
    *,
    topic: str = "lts.intake.events",
    reason: str = EXHAUSTED,
    consumer: str = "triage",
    failed_at: datetime = T0,
    headers: tuple[tuple[str, bytes], ...] = ORIGINAL,
) -> DeadLetterRecord:
    """A DLQ record as the consumer runtime writes it (`dlq_headers`)."""
    failed = RawMessage.of(
        value=b'{"ticket_id": 1}',
        headers=headers,
        key=b"ticket-1",
        topic=topic,
        partition=2,
        offset=41,
    )
    facts = dlq_headers(
        failed,
        DeadLetter(reason, "RuntimeError", "db down"),
        consumer=consumer,
        failed_at=failed_at,
    )
    return DeadLetterRecord(DlqRef.parse(ref), b"ticket-1", b'{"ticket_id": 1}', tuple(facts), T0)


def test_a_record_reads_every_fact_the_consumer_runtime_writes() -> None:
    record = dead_letter("0:7", failed_at=T0 + timedelta(minutes=3))

    assert (record.reason, record.error_type, record.error) == (
        EXHAUSTED,
        "RuntimeError",
        "db down",
    )
    assert (record.source_topic, record.source_partition, record.source_offset) == (
        "lts.intake.events",
        2,
        41,
    )
    assert record.consumer == "triage"
    assert record.failed_at == T0 + timedelta(minutes=3)
    assert (record.message_id, record.event_type) == ("evt-1", "lts.intake.ticket_opened")


def test_the_original_headers_are_those_before_the_failure_in_their_order() -> None:
    record = dead_letter("0:7")

    assert record.original_headers == ORIGINAL


def test_a_message_dead_lettered_twice_replays_without_either_failures_facts() -> None:
    first = dead_letter("0:7")
    again = dead_letter("0:8", headers=first.headers, reason=PERMANENT)

    assert again.reason == PERMANENT
    assert again.original_headers == ORIGINAL


def test_filters_select_by_source_topic_reason_consumer_and_failure_time() -> None:
    records = [
        dead_letter("0:1", topic="lts.intake.events", failed_at=T0),
        dead_letter("0:2", topic="lts.triage.events", failed_at=T0 + timedelta(hours=1)),
        dead_letter("1:0", reason=PERMANENT, failed_at=T0 + timedelta(hours=2)),
        dead_letter("1:1", consumer="metrics", failed_at=T0 + timedelta(hours=3)),
    ]

    def refs(selection: Selection) -> list[str]:
        return [str(r.ref) for r in select(records, selection, {})]

    assert refs(Selection(topics=frozenset({"lts.triage.events"}))) == ["0:2"]
    assert refs(Selection(reasons=frozenset({PERMANENT}))) == ["1:0"]
    assert refs(Selection(consumers=frozenset({"metrics"}))) == ["1:1"]
    assert refs(Selection(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))) == [
        "0:2",
        "1:0",
    ]
    assert refs(Selection(refs=frozenset({DlqRef(1, 1), DlqRef(0, 1)}))) == ["0:1", "1:1"]
    assert refs(
        Selection(topics=frozenset({"lts.intake.events"}), reasons=frozenset({EXHAUSTED}))
    ) == [
        "0:1",
        "1:1",
    ]


def test_selected_messages_come_in_the_order_they_failed() -> None:
    late = dead_letter("0:1", failed_at=T0 + timedelta(hours=1))
    early = dead_letter("2:9", failed_at=T0)

    assert [r.ref for r in select([late, early], Selection(), {})] == [DlqRef(2, 9), DlqRef(0, 1)]


def test_pending_leaves_out_messages_already_replayed() -> None:
    records = [dead_letter("0:1"), dead_letter("0:2")]
    replays = {DlqRef(0, 1): [Replay(T0, "alice", forced=False)]}

    assert [r.ref for r in select(records, Selection(pending_only=True), replays)] == [DlqRef(0, 2)]


def test_a_message_replayed_before_is_refused_unless_forced() -> None:
    replayed, fresh = dead_letter("0:1"), dead_letter("0:2")
    last = Replay(T0 + timedelta(hours=1), "bob", forced=True)
    replays = {DlqRef(0, 1): [Replay(T0, "alice", forced=False), last]}

    plan = plan_replay([replayed, fresh], replays, force=False)
    forced = plan_replay([replayed, fresh], replays, force=True)

    assert plan.send == [fresh]
    assert plan.refused == [(replayed, last)]
    assert forced.send == [replayed, fresh]
    assert forced.refused == []


def test_a_message_that_does_not_say_where_it_came_from_is_not_replayed() -> None:
    foreign = DeadLetterRecord(DlqRef(0, 3), None, b"x", (("dlq_reason", b"undecodable"),), T0)

    plan = plan_replay([foreign], {}, force=True)

    assert plan.send == []
    assert plan.unreplayable == [(foreign, "no dlq_source_topic header")]


def test_a_selection_without_criteria_does_not_narrow() -> None:
    assert not Selection().narrows
    assert Selection(reasons=frozenset({PERMANENT})).narrows
    assert Selection(pending_only=True).narrows


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", T0 - timedelta(minutes=90)),
        ("2h", T0 - timedelta(hours=2)),
        ("3d", T0 - timedelta(days=3)),
        ("2026-11-30T08:00", datetime(2026, 11, 30, 8, tzinfo=UTC)),
        ("2026-11-30T10:00+02:00", datetime(2026, 11, 30, 8, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_in_utc_or_a_span_before_now(text: str, expected: datetime) -> None:
    assert parse_moment(text, now=T0) == expected


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "1:2", ""])
def test_a_time_in_another_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_moment(text, now=T0)


@pytest.mark.parametrize("text", ["7", "a:1", "1:", ":2", "1:2:3"])
def test_a_dlq_reference_is_partition_colon_offset(text: str) -> None:
    with pytest.raises(ValueError, match="PARTITION:OFFSET"):
        DlqRef.parse(text)


def test_the_table_shows_one_row_per_message_and_its_last_replay() -> None:
    records = [dead_letter("0:1"), dead_letter("0:2", reason=PERMANENT)]
    replays = {DlqRef(0, 2): [Replay(T0, "alice", forced=False)]}

    lines = render_table(records, replays).splitlines()

    assert lines[0].split()[:3] == ["DLQ", "FAILED", "AT"]
    assert lines[1].split()[:1] == ["0:1"]
    assert "retries_exhausted" in lines[1]
    assert " - " in lines[1]
    assert "permanent_error" in lines[2]
    assert "2026-12-01 09:00 alice" in lines[2]


def test_the_json_of_a_message_holds_its_original_message_and_replays() -> None:
    document = as_json(dead_letter("0:1"), [Replay(T0, "alice", forced=True)])

    assert document["key"] == "ticket-1"
    assert document["headers"] == {
        "ce_id": "evt-1",
        "ce_type": "lts.intake.ticket_opened",
        "x-trace": "t",
    }
    assert document["replays"] == [{"at": T0.isoformat(), "by": "alice", "forced": True}]
    assert (document["dlq_partition"], document["dlq_offset"]) == (0, 1)


def test_a_replay_naming_no_message_and_no_filter_asks_for_all_before_touching_anything() -> None:
    result = CliRunner().invoke(
        app, ["dlq", "replay"], env={"KAFKA_BOOTSTRAP_SERVERS": "", "DATABASE_URL": ""}
    )

    assert result.exit_code == 1
    assert "or pass --all" in result.stderr
