from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lts_release.staging.store import (
    DigestMismatch,
    FilesystemBlobStore,
    TooLarge,
    put_bytes,
    put_chunks,
)


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_a_blob_is_stored_under_its_sha256(store: FilesystemBlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)

    blob = put_bytes(store, data)

    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    with store.open(blob.sha256) as stored:
        assert stored.read() == data
    assert store.size(blob.sha256) == len(data)


def test_a_digest_mismatch_is_refused_and_nothing_is_stored(store: FilesystemBlobStore) -> None:
    data = b"wheel bytes"
    wrong = hashlib.sha256(b"other bytes").hexdigest()

    with pytest.raises(DigestMismatch) as refused:
        put_bytes(store, data, declared_sha256=wrong)

    assert refused.value.actual == hashlib.sha256(data).hexdigest()
    assert stored_files(store.root) == []


def test_the_declared_digest_is_accepted_in_upper_case(store: FilesystemBlobStore) -> None:
    data = b"sdist bytes"

    blob = put_bytes(store, data, declared_sha256=hashlib.sha256(data).hexdigest().upper())

    assert store.size(blob.sha256) == len(data)


async def chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_streamed_body_is_hashed_chunk_by_chunk(store: FilesystemBlobStore) -> None:
    parts = [os.urandom(100_000) for _ in range(30)]
    whole = b"".join(parts)

    blob = await put_chunks(store, chunks(parts), declared_sha256=hashlib.sha256(whole).hexdigest())

    assert blob.size == len(whole)
    assert store.size(blob.sha256) == len(whole)


async def test_a_streamed_mismatch_leaves_no_draft(store: FilesystemBlobStore) -> None:
    with pytest.raises(DigestMismatch):
        await put_chunks(store, chunks([b"a", b"b"]), declared_sha256="0" * 64)

    assert stored_files(store.root) == []


async def test_a_body_over_the_limit_is_refused_and_nothing_is_stored(
    store: FilesystemBlobStore,
) -> None:
    with pytest.raises(TooLarge):
        await put_chunks(store, chunks([b"x" * 600, b"x" * 600]), max_bytes=1000)

    assert stored_files(store.root) == []


def test_storing_the_same_bytes_twice_keeps_one_blob(store: FilesystemBlobStore) -> None:
    first = put_bytes(store, b"same")
    second = put_bytes(store, b"same")

    assert first == second
    assert len(stored_files(store.root)) == 1
