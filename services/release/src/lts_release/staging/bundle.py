"""The offline bundle: one tar.gz holding a sealed candidate's artifacts and every output,
under one top directory (names.bundle_root). It is written straight into the artifact store,
hashed as it is written; members are streamed from the store, never held in memory."""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Sequence
from datetime import datetime

from lts_release.staging.store import BlobStore, StoredBlob, Upload

COMPRESS_LEVEL = 1  # artifacts are mostly compressed already (wheels, tar.gz): more level, no gain
MEDIA_TYPE = "application/gzip"


class _UploadWriter:
    """A write-only file over an `Upload`, for gzip."""

    def __init__(self, upload: Upload) -> None:
        self._upload = upload

    def write(self, data: bytes) -> int:
        self._upload.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def write_bundle(
    store: BlobStore,
    *,
    root: str,
    members: Sequence[tuple[str, str, int]],
    created_at: datetime,
) -> StoredBlob:
    """`members`: (path inside `root`, sha256 in the store, size), written in that order."""
    mtime = int(created_at.timestamp())
    upload = store.begin()
    try:
        with (
            gzip.GzipFile(
                fileobj=_UploadWriter(upload), mode="wb", compresslevel=COMPRESS_LEVEL, mtime=mtime
            ) as compressed,
            tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for directory in _directories(root, [path for path, _, _ in members]):
                tar.addfile(_info(directory, 0, mtime, is_dir=True))
            for path, sha256, size in members:
                with store.open(sha256) as blob:
                    tar.addfile(_info(f"{root}/{path}", size, mtime), blob)
        return upload.commit()
    except BaseException:
        upload.abort()
        raise


def _directories(root: str, paths: Sequence[str]) -> list[str]:
    nested = {f"{root}/{path.rsplit('/', 1)[0]}" for path in paths if "/" in path}
    return [root, *sorted(nested)]


def _info(name: str, size: int, mtime: int, *, is_dir: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
