"""What reconcile makes of the facts it is given: matched, in flight, missing, phantom."""

from __future__ import annotations

from lts_events.store.inspect import StoredRef
from lts_events.store.port import Checkpoint
from lts_metrics.reconcile import AuditedRef, Progress, reconcile


def stored(event_id: str, position: int, stream: str = "ticket-1") -> StoredRef:
    return StoredRef(stream, position, event_id, "lts.x.noted", Checkpoint(10, position))


def audited(event_id: str, stream: str = "ticket-1") -> AuditedRef:
    return AuditedRef(stream, None, event_id, "lts.x.noted")


def test_an_unaudited_event_published_before_the_consumer_caught_up_is_in_flight() -> None:
    events = [stored("a", 1), stored("b", 2)]

    report = reconcile("x", events, [audited("a")], Progress(Checkpoint(10, 2), consumed=False))

    assert ([e.event_id for e in report.in_flight], report.missing) == (["b"], [])
    assert report.ok


def test_an_unaudited_event_relayed_and_consumed_is_missing() -> None:
    events = [stored("a", 1), stored("b", 2)]

    report = reconcile("x", events, [audited("a")], Progress(Checkpoint(10, 2), consumed=True))

    assert [e.event_id for e in report.missing] == ["b"]
    assert not report.ok


def test_an_audited_event_the_store_gained_after_its_snapshot_is_no_phantom() -> None:
    copies = [audited("a"), audited("late"), audited("gone")]

    report = reconcile(
        "x",
        [stored("a", 1)],
        copies,
        Progress(Checkpoint(10, 1), consumed=True),
        stored_later=["late"],
    )

    assert [p.event_id for p in report.phantoms] == ["gone"]
