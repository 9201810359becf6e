"""Staging a release candidate: 20 artifacts of 10 MB each received into the content-addressed
store the way an HTTP upload is (64 KiB body pieces gathered into 1 MiB writes, hashed and
written in worker threads, drafts fsynced, then renamed under their digest), against
`sha256sum` over the same files in the same run.

- `release_stage`: MB/s through `put_chunks` (hash + durable write) vs MB/s of one
  `sha256sum` process hashing the 20 files; target ratio >= 0.8. Rounds alternate and each side
  takes its best round (the files are in the page cache for both after the first read).
- `release_stage_hash`: the hashing alone of that path (`digests.sha256_of_file`, hashlib's
  OpenSSL SHA-256 in 1 MiB reads) vs the same `sha256sum` rounds: what the write and fsync cost
  the first row is the difference.
- `release_seal`: seconds to seal the staged candidate (SBOMs, manifest, DSSE provenance,
  signed SHA256SUMS, the offline bundle: 200 MB gzipped into the store), informative."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from lts_release.staging.digests import sha256_of_file
from lts_release.staging.keys import generate_pem, signer_from_pem
from lts_release.staging.seal import SealRequest, StagedArtifact, seal
from lts_release.staging.store import FilesystemBlobStore, StoredBlob, put_chunks

ARTIFACTS = 20
SIZE = 10 * 1024 * 1024
ROUNDS = 3
MB = 1024 * 1024
HTTP_PIECE = 64 * 1024


async def _body_of(path: Path) -> AsyncIterator[bytes]:
    """The file as an HTTP server hands a request body over: in 64 KiB pieces."""
    with path.open("rb") as stream:
        while chunk := stream.read(HTTP_PIECE):
            yield chunk


async def _stage(files: list[Path], root: Path) -> tuple[float, list[StoredBlob]]:
    store = FilesystemBlobStore(root)
    started = time.perf_counter()
    blobs = [await put_chunks(store, _body_of(path)) for path in files]
    return time.perf_counter() - started, blobs


def _hash_only(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        sha256_of_file(path)
    return time.perf_counter() - started


def _sha256sum(files: list[Path]) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
    return time.perf_counter() - started


def _seal(root: Path, files: list[Path], blobs: list[StoredBlob]) -> float:
    store = FilesystemBlobStore(root)
    request = SealRequest(
        candidate_id="bench-1.0.1rc1",
        version="1.0.1",
        line="1.0",
        backports=[],
        tickets=[],
        cves=[],
        artifacts=[
            StagedArtifact(path.name, blob.sha256, blob.size, "application/octet-stream")
            for path, blob in zip(files, blobs, strict=True)
        ],
        builder_id="https://lts-flow.dev/bench",
        sealed_by="bench",
        sealed_at=datetime.now(UTC),
    )
    started = time.perf_counter()
    seal(request, store=store, signer=signer_from_pem(generate_pem()))
    return time.perf_counter() - started


async def main(*, kafka_bootstrap_servers: str, database_url: str) -> list[dict[str, object]]:
    del kafka_bootstrap_servers, database_url  # file I/O and hashing only
    with tempfile.TemporaryDirectory(prefix="bench-release-stage-") as work:
        base = Path(work)
        files = []
        for n in range(ARTIFACTS):
            path = base / f"artifact-{n:02d}.bin"
            path.write_bytes(os.urandom(SIZE))
            files.append(path)
        ours: list[float] = []
        hashing: list[float] = []
        theirs: list[float] = []
        blobs: list[StoredBlob] = []
        for round_ in range(ROUNDS):
            theirs.append(await asyncio.to_thread(_sha256sum, files))
            hashing.append(await asyncio.to_thread(_hash_only, files))
            seconds, blobs = await _stage(files, base / f"store-{round_}")
            ours.append(seconds)
        sealing = await asyncio.to_thread(_seal, base / f"store-{ROUNDS - 1}", files, blobs)
    total_mb = ARTIFACTS * SIZE / MB
    ours_rate, theirs_rate = total_mb / min(ours), total_mb / min(theirs)
    return [
        {
            "bench": "release_stage",
            "ours": round(ours_rate, 1),
            "baseline": round(theirs_rate, 1),
            "ratio": round(ours_rate / theirs_rate, 3),
            "unit": "MB/s",
            "target": "ratio >= 0.8",
            "artifacts": f"{ARTIFACTS} x {SIZE // MB} MB",
            "ours_rounds_s": [round(s, 3) for s in ours],
            "baseline_rounds_s": [round(s, 3) for s in theirs],
        },
        {
            "bench": "release_stage_hash",
            "ours": round(total_mb / min(hashing), 1),
            "baseline": round(theirs_rate, 1),
            "ratio": round(total_mb / min(hashing) / theirs_rate, 3),
            "unit": "MB/s",
            "ours_rounds_s": [round(s, 3) for s in hashing],
        },
        {
            "bench": "release_seal",
            "ours": round(sealing, 2),
            "unit": "s",
            "what": "SBOMs, manifest, DSSE, signed SHA256SUMS and a 200 MB bundle into the store",
        },
    ]
