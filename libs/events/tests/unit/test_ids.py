"""Event ids drawn from a pool of OS randomness."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from lts_events import ids


def test_ids_are_version_4_uuids_of_the_rfc_4122_variant_like_uuid4s() -> None:
    made = [ids.uuid4() for _ in range(1000)]

    for value in made:
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
        assert value == uuid.UUID(bytes=value.bytes, version=4)
        assert value == uuid.UUID(str(value))
        assert hash(value) == hash(uuid.UUID(str(value)))
        assert value.is_safe is uuid.SafeUUID.unknown


def test_ids_do_not_repeat_across_many_draws() -> None:
    count = 50_000  # ~200 draws of the pool

    assert len({ids.uuid4() for _ in range(count)}) == count


def test_threads_get_ids_of_their_own() -> None:
    def draw(_: int) -> list[uuid.UUID]:
        return [ids.uuid4() for _ in range(2000)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(draw, range(8)))

    every = [value for batch in batches for value in batch]
    assert len(set(every)) == len(every)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids.uuid4()  # the parent has a pool with ids left in it
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, ids.uuid4().bytes)
        os._exit(0)
    os.close(write)
    from_child = os.read(read, 16)
    os.close(read)
    os.waitpid(child, 0)

    assert len(from_child) == 16
    assert uuid.UUID(bytes=from_child) != ids.uuid4()
