"""When a chain anchor is due (`lts_events.store.anchors`): after `every_events` new events, or
a fiftieth of what the last anchor pinned when that is more, or after `every_seconds`; never
without a new event."""

from __future__ import annotations

from lts_events.store.anchors import STORE_FRACTION, anchor_due, events_before_anchor


def test_a_small_store_waits_for_every_events() -> None:
    assert events_before_anchor(10_000, 0) == 10_000
    assert events_before_anchor(10_000, 499_999) == 10_000


def test_a_large_store_waits_for_a_fraction_of_what_its_last_anchor_pinned() -> None:
    assert events_before_anchor(10_000, 5_000_000) == 5_000_000 // STORE_FRACTION == 100_000


def test_an_anchor_is_due_after_enough_events_or_enough_time_but_never_without_news() -> None:
    assert not anchor_due(9, 1.0, threshold=10, every_seconds=300.0)
    assert anchor_due(10, 1.0, threshold=10, every_seconds=300.0)
    assert anchor_due(1, 300.0, threshold=10, every_seconds=300.0)
    assert not anchor_due(0, 10_000.0, threshold=10, every_seconds=300.0)
