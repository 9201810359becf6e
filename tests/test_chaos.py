"""The chaos suite's own logic, without I/O: the load it sends, how it counts and judges, when it
calls a run quiescent. (The suite itself runs with `make chaos`; a small run is in
`test_chaos_run.py`.)"""

from __future__ import annotations

import json
from collections import Counter

from lts_events.contracts.common import ticket_stream

from chaos.checks import (
    DECISIONS,
    Counts,
    failures,
    tally_audit,
    tally_reminders,
    tally_tickets,
    tally_triage,
)
from chaos.load import deliveries, fingerprint
from chaos.observe import Snapshot
from chaos.quiescence import settled
from chaos.table import render


def a_clean_run(inputs: int = 3) -> Counts:
    return Counts(
        inputs=inputs,
        one_ticket=inputs,
        tickets=inputs,
        triaged_once=inputs,
        reminded_once=inputs,
        stored=inputs * 8,
        audited_once=inputs * 8,
    )


def test_every_alert_is_delivered_exactly_twice_as_the_same_cloudevent() -> None:
    load = deliveries("run", 50, seed=1)

    ids = Counter(dict(d.headers)["ce_id"] for d in load)
    fingerprints = {json.loads(d.value)["fingerprint"] for d in load}

    assert len(load) == 100
    assert set(ids.values()) == {2}
    assert fingerprints == {fingerprint("run", i) for i in range(50)}
    assert all(d.key == json.loads(d.value)["fingerprint"].encode() for d in load)


def test_the_deliveries_are_shuffled_so_duplicates_are_not_adjacent() -> None:
    load = deliveries("run", 50, seed=1)

    keys = [d.key for d in load]

    assert keys[:50] != keys[50:]


def test_a_clean_run_has_no_failures() -> None:
    assert failures(a_clean_run()) == []


def test_inputs_with_no_ticket_or_two_tickets_and_reused_ids_are_counted() -> None:
    counts = Counts(inputs=3)
    opened = [("a", 1), ("b", 2), ("b", 3), ("x", 3)]

    tally_tickets(counts, ["a", "b", "c"], opened)

    assert (counts.one_ticket, counts.no_ticket, counts.several_tickets) == (1, 1, 1)
    assert (counts.reused_ticket_ids, counts.tickets) == (1, 3)
    assert failures(counts)[:2] == [
        "2 inputs without exactly one ticket (1 none, 1 several)",
        "1 ticket ids opened more than once",
    ]


def test_a_ticket_missing_a_decision_or_deciding_twice_fails_triage() -> None:
    counts = a_clean_run(inputs=3)
    complete = [(ticket_stream(1), kind) for kind in DECISIONS]
    missing_one = [(ticket_stream(2), kind) for kind in DECISIONS[1:]]
    twice = [(ticket_stream(3), kind) for kind in (*DECISIONS, DECISIONS[2])]
    counts.triaged_once = 0

    tally_triage(counts, [1, 2, 3], complete + missing_one + twice)

    assert (counts.triaged_once, counts.triage_missing, counts.triage_doubled) == (1, 1, 1)
    assert any(f.startswith("triage:") for f in failures(counts))


def test_a_ticket_without_its_reminder_reminded_twice_or_a_timer_left_unfired_fails() -> None:
    counts = a_clean_run(inputs=3)
    counts.reminded_once = 0
    counts.timers_unfired = 2

    tally_reminders(counts, [1, 2, 3], [ticket_stream(1), ticket_stream(3), ticket_stream(3)])

    assert (counts.reminded_once, counts.reminder_missing, counts.reminder_doubled) == (1, 1, 1)
    assert failures(counts) == [
        "timers: 1 tickets without their reminder, 1 reminded twice, 2 due timers unfired"
    ]


def test_a_ticket_the_release_load_approved_owes_no_reminder_but_may_not_have_two() -> None:
    counts = a_clean_run(inputs=3)
    counts.reminded_once = 0

    tally_reminders(
        counts, [1, 2, 3], [ticket_stream(2), ticket_stream(3), ticket_stream(3)], approved={1, 3}
    )

    assert (counts.reminded_once, counts.reminder_missing, counts.reminder_doubled) == (2, 0, 1)


def test_events_not_audited_and_audited_events_no_store_holds_are_counted() -> None:
    counts = a_clean_run()

    tally_audit(counts, stored={"e1", "e2", "e3"}, audited=["e1", "e2", "phantom"])

    assert (counts.stored, counts.audited_once, counts.not_audited, counts.phantoms) == (3, 2, 1, 1)
    assert failures(counts) == ["audit: 1 not audited, 1 phantoms"]


def test_dead_letters_failed_verify_or_reconcile_and_no_quiescence_each_fail_the_run() -> None:
    for broken in (
        Counts(**{**a_clean_run().__dict__, "dead_letters": 1}),
        Counts(**{**a_clean_run().__dict__, "verify_failed": ["triage"]}),
        Counts(**{**a_clean_run().__dict__, "quiescent": False}),
        Counts(**{**a_clean_run().__dict__, "reconciled": False}),
        Counts(**{**a_clean_run().__dict__, "orphan_claims": 2}),
    ):
        assert len(failures(broken)) == 1


def test_quiescent_only_when_nothing_moves_between_two_looks() -> None:
    still = Snapshot(events=(10, 70, 80), relays_behind=(), lag=0)

    assert settled(still, still)
    assert not settled(None, still)
    assert not settled(Snapshot((10, 70, 79), (), 0), still)
    assert not settled(still, Snapshot((10, 70, 80), ("triage",), 0))
    assert not settled(still, Snapshot((10, 70, 80), (), 3))


def test_the_table_has_a_row_per_scenario_with_its_verdict() -> None:
    broken = a_clean_run()
    broken.phantoms = 2

    table = render([("baseline", a_clean_run()), ("kill-postgres", broken)]).splitlines()

    assert len(table) == 4
    assert table[2].split("|")[0].strip() == "baseline"
    assert table[2].endswith("pass")
    assert table[3].split("|")[0].strip() == "kill-postgres"
    assert table[3].endswith("FAIL")
