"""Ids (lts_events.ids): random version-4 UUIDs read from the OS 128 at a time, and
time-ordered version-7 UUIDs (RFC 9562), monotonic within the process."""

from __future__ import annotations

import itertools
import os
import pickle
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from lts_events import ids


@pytest.mark.parametrize(("make", "version"), [(ids.uuid4, 4), (ids.uuid7, 7)])
def test_an_id_is_a_uuid_of_its_version_like_uuid4s(
    make: Callable[[], uuid.UUID], version: int
) -> None:
    made = [make() for _ in range(2000)]

    assert len(set(made)) == len(made)
    for event_id in made[:50]:
        assert event_id.version == version
        assert event_id.variant == uuid.RFC_4122  # the variant RFC 9562 keeps for version 7
        assert event_id.is_safe == uuid.SafeUUID.unknown
        same = uuid.UUID(str(event_id))
        assert same == event_id
        assert hash(same) == hash(event_id)
        assert pickle.loads(pickle.dumps(event_id)) == event_id


def test_random_event_ids_use_all_their_random_bits() -> None:
    made = [ids.uuid4().int for _ in range(256)]

    fixed_ones = ~0 & ((1 << 128) - 1)
    fixed_zeros = 0
    for value in made:
        fixed_ones &= value
        fixed_zeros |= value

    version_and_variant = (0xF000 << 64) | (0xC000 << 48)
    assert fixed_ones == (4 << 76) | (0x8000 << 48)  # only the version and variant bits
    assert fixed_zeros | version_and_variant == (1 << 128) - 1


def test_threads_drawing_event_ids_at_once_never_share_one() -> None:
    def draw() -> list[uuid.UUID]:
        return [ids.uuid4() for _ in range(3000)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = [event_id for batch in pool.map(lambda _: draw(), range(4)) for event_id in batch]

    assert len(set(drawn)) == len(drawn) == 12000


def made_in_a_forked_child(make: Callable[[], uuid.UUID]) -> uuid.UUID:
    """The id `make` gives in a child forked now."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, make().bytes)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    made = uuid.UUID(bytes=os.read(read, 16))
    os.close(read)
    return made


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_does_not_reuse_the_ids_its_parent_read_ahead() -> None:
    ids.uuid4()  # the parent now holds ids read ahead

    childs = made_in_a_forked_child(ids.uuid4)

    assert childs != ids.uuid4()


# -- time-ordered ids ------------------------------------------------------------------------------

_MS = 1_000_000  # ns


def _time_field(value: uuid.UUID) -> int:
    return value.int >> 80


def _counter(value: uuid.UUID) -> int:
    return (value.int >> 64) & 0xFFF


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A clock that stays where the test puts it (ns since the epoch), and no id made before."""
    now = [1_800_000_000_000 * _MS]
    monkeypatch.setattr(ids, "_clock", lambda: now[0])
    monkeypatch.setattr(ids, "_millisecond", (itertools.count(), -1, 0))
    return now


def test_its_time_field_is_the_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // _MS
    made = ids.uuid7()
    after = time.time_ns() // _MS

    assert before <= _time_field(made) <= after + 1  # +1: a counter run out in this ms


def test_ids_made_one_after_another_sort_after_each_other_as_ints_text_and_bytes() -> None:
    made = [ids.uuid7() for _ in range(20_000)]

    assert made == sorted(made)
    assert len({m.int for m in made}) == len(made)
    assert [str(m) for m in made] == sorted(str(m) for m in made)
    assert [m.bytes for m in made] == sorted(m.bytes for m in made)


def test_within_a_millisecond_the_counter_counts_up_from_a_random_start(
    frozen_clock: list[int],
) -> None:
    starts = set()
    for _ in range(40):
        frozen_clock[0] += _MS
        first, second, third = ids.uuid7(), ids.uuid7(), ids.uuid7()
        assert _time_field(first) == _time_field(third) == frozen_clock[0] // _MS
        assert _counter(second) == _counter(first) + 1
        assert _counter(third) == _counter(first) + 2
        assert _counter(first) <= 0x7FF  # room to count up
        starts.add(_counter(first))
        assert first < second < third
    assert len(starts) > 30  # random starts (40 draws of 2048: a few may repeat)


def test_a_counter_that_runs_out_moves_the_time_field_on(frozen_clock: list[int]) -> None:
    frozen_clock[0] += 5 * _MS
    # A millisecond holds 2049-4096 ids (the counter starts at 0-0x7FF, ends at 0xFFF): 4097
    # run it out once, and only once.
    made = [ids.uuid7() for _ in range(4097)]

    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert _time_field(made[0]) == frozen_clock[0] // _MS
    assert _time_field(made[-1]) == frozen_clock[0] // _MS + 1


def test_a_clock_that_steps_back_does_not_take_the_ids_back(frozen_clock: list[int]) -> None:
    frozen_clock[0] += 10 * _MS
    before = ids.uuid7()
    frozen_clock[0] -= 3 * _MS  # e.g. NTP
    after = [ids.uuid7() for _ in range(5)]

    assert [before, *after] == sorted([before, *after])
    assert {_time_field(a) for a in after} == {_time_field(before)}


def test_time_ordered_ids_use_all_their_random_bits(frozen_clock: list[int]) -> None:
    made = [ids.uuid7().int for _ in range(256)]

    rand_b = (1 << 62) - 1
    fixed_ones, fixed_zeros = rand_b, 0
    for value in made:
        fixed_ones &= value & rand_b
        fixed_zeros |= value & rand_b
    assert fixed_ones == 0
    assert fixed_zeros == rand_b
    assert {(value >> 62) & 0b11 for value in made} == {0b10}  # the variant
    assert {(value >> 76) & 0xF for value in made} == {7}  # the version


def test_threads_drawing_time_ordered_ids_at_once_never_share_one() -> None:
    def draw() -> list[uuid.UUID]:
        made = [ids.uuid7() for _ in range(3000)]
        assert made == sorted(made)  # each thread's own ids stay in order
        return made

    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = [event_id for batch in pool.map(lambda _: draw(), range(4)) for event_id in batch]

    assert len(set(drawn)) == len(drawn) == 12000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_makes_other_time_ordered_ids_than_its_parent(
    frozen_clock: list[int],
) -> None:
    ids.uuid7()  # the parent now holds random bits read ahead and a counter

    childs = made_in_a_forked_child(ids.uuid7)

    parents = ids.uuid7()
    assert childs != parents
    assert _time_field(childs) == _time_field(parents)  # same clock, other random bits
