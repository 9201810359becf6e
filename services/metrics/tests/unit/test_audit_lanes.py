"""How an audit batch is shared out among concurrent transactions (`audit.lanes_of`)."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st
from lts_events.envelope import Envelope
from lts_metrics import audit


def _entry(subject: str) -> tuple[audit.EnvelopeFacts, object]:
    envelope = Envelope(
        id=str(uuid4()), source="lts-flow/triage", type="lts.triage.x", subject=subject, data={}
    )
    return audit.facts_of(envelope, topic="lts.triage.events"), object()


@given(st.lists(st.integers(0, 6), max_size=60), st.integers(1, 4))
def test_every_entry_is_in_one_lane_each_stream_whole_and_in_order(
    subjects: list[int], lanes: int
) -> None:
    entries = [_entry(f"ticket-{s}") for s in subjects]

    shared = audit.lanes_of(entries, lanes=lanes)  # type: ignore[arg-type]

    assert sorted(id(e) for lane in shared for e in lane) == sorted(id(e) for e in entries)
    assert len(shared) <= lanes
    assert all(shared)
    lane_of = {e[0].stream_id: n for n, lane in enumerate(shared) for e in lane}
    for n, lane in enumerate(shared):
        assert all(lane_of[e[0].stream_id] == n for e in lane)  # a stream in one lane only
        for stream in {e[0].stream_id for e in lane}:
            mine = [e for e in lane if e[0].stream_id == stream]
            assert mine == [e for e in entries if e[0].stream_id == stream]  # Kafka order


def test_streams_are_shared_out_by_size() -> None:
    entries = [_entry("ticket-1") for _ in range(4)] + [_entry(f"ticket-{n}") for n in (2, 3)]
    entries += [_entry("ticket-4") for _ in range(2)]

    shared = audit.lanes_of(entries, lanes=2)  # type: ignore[arg-type]

    assert sorted(len(lane) for lane in shared) == [4, 4]
