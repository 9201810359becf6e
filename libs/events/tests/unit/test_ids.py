"""Event ids: random version-4 UUIDs read from the OS 128 at a time."""

from __future__ import annotations

import os
import pickle
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from lts_events import ids


def test_a_random_event_id_is_a_version_4_uuid_like_uuid4s() -> None:
    made = [ids.uuid4() for _ in range(2000)]

    assert len(set(made)) == len(made)
    for event_id in made[:50]:
        assert event_id.version == 4
        assert event_id.variant == uuid.RFC_4122
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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_does_not_reuse_the_ids_its_parent_read_ahead() -> None:
    ids.uuid4()  # the parent now holds ids read ahead
    read, write = os.pipe()

    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, ids.uuid4().bytes)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    childs = uuid.UUID(bytes=os.read(read, 16))
    os.close(read)

    assert childs != ids.uuid4()
