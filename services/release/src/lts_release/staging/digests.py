"""SHA-256 of files and streams, chunk by chunk: a file is never read into memory whole."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024  # hashlib releases the GIL above 2 KiB; 1 MiB keeps syscalls few
_HEX = re.compile(r"^[0-9a-f]{64}$")


def is_sha256_hex(value: str) -> bool:
    return bool(_HEX.fullmatch(value))


def chunks_of(stream: BinaryIO, size: int = CHUNK) -> Iterable[bytes]:
    while chunk := stream.read(size):
        yield chunk


def sha256_of_stream(stream: BinaryIO) -> tuple[str, int]:
    """Hex digest and byte count of what is left in `stream`."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks_of(stream):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_of_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as stream:
        return sha256_of_stream(stream)


def sha256_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
