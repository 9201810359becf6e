"""Content-addressed artifact store: a blob's name is its SHA-256.

The digest is computed on receipt, chunk by chunk, while the bytes are written to a draft; a
draft whose digest differs from the declared one is deleted, so a mismatch stores nothing. A
committed blob never changes (same name, same bytes), which is what makes a sealed candidate
immutable: its events refer to blobs by digest.

`BlobStore` is the port. `FilesystemBlobStore` keeps blobs under a directory (the service's data
directory by default). An S3-compatible store plugs in behind the same port: `begin()` starts a
multipart upload to a draft key while hashing, `commit()` compares the digest, then copies the
draft to `sha256/<hex>` (or deletes it on a mismatch); `open()` streams a GET of that key."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from lts_release.staging.digests import CHUNK, chunks_of, is_sha256_hex

WRITE_BATCH = 4 * CHUNK  # fewer hops to the worker thread: each waits for a core under load


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class DigestMismatch(ValueError):
    """The received bytes do not have the declared SHA-256; nothing was stored."""

    def __init__(self, *, declared: str, actual: str) -> None:
        super().__init__(f"declared sha256 {declared} but received bytes hash to {actual}")
        self.declared = declared
        self.actual = actual


class TooLarge(ValueError):
    """More bytes than the store accepts for one blob; nothing was stored."""


class BlobNotFound(LookupError):
    pass


class Upload(Protocol):
    """One blob being received: `write` chunks, then `commit` (or `abort`)."""

    def write(self, chunk: bytes) -> None: ...

    def commit(self, declared_sha256: str | None = None) -> StoredBlob:
        """Store the blob under its digest; `DigestMismatch` (nothing stored) when the received
        bytes do not hash to `declared_sha256`."""
        ...

    def abort(self) -> None: ...


class BlobStore(Protocol):
    def begin(self) -> Upload: ...

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes for reading; `BlobNotFound` when absent."""
        ...

    def size(self, sha256: str) -> int | None:
        """The blob's size, None when the store does not hold it."""
        ...


class FilesystemBlobStore:
    """Blobs at `<root>/sha256/<first two hex>/<hex>`, drafts in `<root>/drafts/`."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable  # fsync before a blob counts as stored (events will name it)
        (root / "drafts").mkdir(parents=True, exist_ok=True)
        (root / "sha256").mkdir(parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        if not is_sha256_hex(sha256):
            raise BlobNotFound(f"not a sha256 hex digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def begin(self) -> _FileUpload:
        return _FileUpload(self, self.root / "drafts" / f"{uuid.uuid4().hex}.part")

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path_of(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def size(self, sha256: str) -> int | None:
        try:
            return self.path_of(sha256).stat().st_size
        except (FileNotFoundError, BlobNotFound):
            return None


class _FileUpload:
    def __init__(self, store: FilesystemBlobStore, draft: Path) -> None:
        self._store = store
        self._draft = draft
        self._file = draft.open("xb")
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self, declared_sha256: str | None = None) -> StoredBlob:
        actual = self._digest.hexdigest()
        if declared_sha256 is not None and declared_sha256.lower() != actual:
            self.abort()
            raise DigestMismatch(declared=declared_sha256, actual=actual)
        self._file.flush()
        if self._store.durable:
            os.fsync(self._file.fileno())
        self._file.close()
        final = self._store.path_of(actual)
        final.parent.mkdir(exist_ok=True)
        self._draft.chmod(0o444)
        os.replace(self._draft, final)  # same digest, same bytes: replacing a twin is harmless
        if self._store.durable:
            _fsync_dir(final.parent)
        return StoredBlob(sha256=actual, size=self.size)

    def abort(self) -> None:
        self._file.close()
        self._draft.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _upload(store: BlobStore) -> Iterator[Upload]:
    upload = store.begin()
    try:
        yield upload
    except BaseException:
        upload.abort()
        raise


def put_stream(
    store: BlobStore, stream: BinaryIO, *, declared_sha256: str | None = None
) -> StoredBlob:
    with _upload(store) as upload:
        for chunk in chunks_of(stream):
            upload.write(chunk)
        return upload.commit(declared_sha256)


def put_bytes(store: BlobStore, data: bytes, *, declared_sha256: str | None = None) -> StoredBlob:
    with _upload(store) as upload:
        upload.write(data)
        return upload.commit(declared_sha256)


async def put_chunks(
    store: BlobStore,
    chunks: AsyncIterable[bytes],
    *,
    declared_sha256: str | None = None,
    max_bytes: int | None = None,
) -> StoredBlob:
    """Receive an HTTP body: each chunk is hashed and written in a worker thread, so the event
    loop keeps serving while large artifacts stream in."""
    upload = await asyncio.to_thread(store.begin)
    received = 0
    pending: list[bytes] = []  # an HTTP body comes in ~64 KiB pieces: hand threads batches
    pending_size = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if max_bytes is not None and received > max_bytes:
                raise TooLarge(f"more than {max_bytes} bytes")
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= WRITE_BATCH:
                await asyncio.to_thread(_write_all, upload, pending)
                pending, pending_size = [], 0
        if pending_size:
            await asyncio.to_thread(_write_all, upload, pending)
        return await asyncio.to_thread(upload.commit, declared_sha256)
    except BaseException:
        await asyncio.to_thread(upload.abort)
        raise


def _write_all(upload: Upload, pieces: list[bytes]) -> None:
    for piece in pieces:  # piece by piece: joining them first would copy every byte once more
        upload.write(piece)
