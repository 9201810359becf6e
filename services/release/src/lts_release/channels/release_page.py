"""The downloadable release page: static HTML, the release's files (artifacts, the offline
bundle, SHA256SUMS and its signatures, the public key, manifest, provenance, SBOMs) written to a
directory that the service serves at `/releases/` (`api.py`) and any web server can serve too.

Layout: `<dir>/index.html` (every version by line), `<dir>/<version>/index.html` and
`<dir>/<version>/<file>`; `<dir>/releases.json` is the record the pages are rendered from.
A file is written once (copied to a temporary name while its SHA-256 is checked, then renamed):
publishing again finds it with the same digest and sends nothing; other bytes under its name
are refused. Withdrawing a version keeps its files and marks both pages (`yank`)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from lts_events.contracts.release.publication import ChannelFile, FileKind

from lts_release.channels.base import (
    Capabilities,
    ChannelError,
    FileSource,
    Published,
    ReleaseFile,
    SealedRelease,
    Withdrawing,
    Withdrawn,
)
from lts_release.channels.page_html import PageEntry, PageFile, render_index, render_version

NAME = "release-page"
RECORD = "releases.json"
PAGE = "index.html"
CHUNK = 1024 * 1024


class UnsafeName(ValueError):
    """A version or file name that would leave its directory (or hide as a dot file)."""


def safe_path(name: str) -> PurePosixPath:
    """`name` as a relative path of plain components, else `UnsafeName`."""
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or "\\" in name
        or any(part in {"", ".", ".."} or part.startswith(".") for part in path.parts)
    ):
        raise UnsafeName(f"unsafe name {name!r}")
    return path


class ReleasePageChannel:
    def __init__(self, directory: Path, base_url: str) -> None:
        self.directory = directory
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(hosts=frozenset(FileKind), yank=True)

    def page_url(self, version: str) -> str:
        return f"{self.base_url}{quote(version)}/"

    async def publish(self, release: SealedRelease, source: FileSource) -> Published:
        return await asyncio.to_thread(self._publish, release, source)

    async def withdraw(self, withdrawing: Withdrawing) -> Withdrawn:
        return await asyncio.to_thread(self._withdraw, withdrawing)

    def served_file(self, version: str, name: str | None = None) -> Path | None:
        """The file a GET of `/releases/<version>/<name>` answers with (a version's page when
        `name` is None or empty), None when there is none or the name is unsafe."""
        try:
            relative = safe_path(version) / safe_path(name or PAGE)
        except UnsafeName:
            return None
        path = self.directory / relative
        return path if path.is_file() else None

    def index_file(self) -> Path | None:
        path = self.directory / PAGE
        return path if path.is_file() else None

    # -- the blocking work, in a thread

    def _publish(self, release: SealedRelease, source: FileSource) -> Published:
        version_dir = self._version_dir(release.version)
        with self._locked():
            entries = self._load()
            files = tuple(
                self._place(version_dir, release.version, file, source) for file in release.files
            )
            previous = entries.get(release.version)
            entry = PageEntry(
                version=release.version,
                line=release.line,
                tag=release.tag,
                candidate_id=release.candidate_id,
                files=tuple(PageFile(f.name, f.kind, f.sha256, f.size) for f in release.files),
                ticket_ids=release.ticket_ids,
                cve_ids=release.cve_ids,
                withdrawn_reason=previous.withdrawn_reason if previous else None,
            )
            if entry != previous:
                entries[release.version] = entry
                self._save(entries)
                self._render(entries, entry)
        return Published(NAME, files, page_url=self.page_url(release.version))

    def _withdraw(self, withdrawing: Withdrawing) -> Withdrawn:
        with self._locked():
            entries = self._load()
            entry = entries.get(withdrawing.version)
            if entry is None:
                raise ChannelError(f"{withdrawing.version} is not on the release page")
            if entry.withdrawn_reason is None:
                entry = replace(entry, withdrawn_reason=withdrawing.reason)
                entries[withdrawing.version] = entry
                self._save(entries)
                self._render(entries, entry)
        return Withdrawn(NAME, "yanked")

    def _version_dir(self, version: str) -> Path:
        try:
            return self.directory / safe_path(version)
        except UnsafeName as error:
            raise ChannelError(str(error)) from error

    def _place(
        self, version_dir: Path, version: str, file: ReleaseFile, source: FileSource
    ) -> ChannelFile:
        try:
            relative = safe_path(file.name)
        except UnsafeName as error:
            raise ChannelError(str(error), file=file.name) from error
        if relative == PurePosixPath(PAGE):
            raise ChannelError(f"{PAGE} is the page itself, not a release file", file=file.name)
        target = version_dir / relative
        url = f"{self.page_url(version)}{quote(str(relative))}"
        if target.exists():
            if _sha256_of(target) != file.sha256:
                raise ChannelError(
                    f"the release page holds another {file.name}; a published file never changes",
                    file=file.name,
                    status_code=409,
                )
            return ChannelFile(name=file.name, sha256=file.sha256, url=url, sent=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        draft = target.with_name(f".{target.name}.draft")
        digest = hashlib.sha256()
        with source.open(file.sha256) as content, draft.open("wb") as out:
            while chunk := content.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != file.sha256:
            draft.unlink(missing_ok=True)
            raise ChannelError(
                f"the stored {file.name} hashes to {digest.hexdigest()}, not {file.sha256}",
                file=file.name,
            )
        draft.replace(target)
        return ChannelFile(name=file.name, sha256=file.sha256, url=url, sent=True)

    def _render(self, entries: dict[str, PageEntry], changed: PageEntry) -> None:
        _write_atomically(self.directory / changed.version / PAGE, render_version(changed))
        _write_atomically(self.directory / PAGE, render_index(entries.values()))

    def _load(self) -> dict[str, PageEntry]:
        try:
            raw = json.loads((self.directory / RECORD).read_text())
        except FileNotFoundError:
            return {}
        return {item["version"]: _entry(item) for item in raw["releases"]}

    def _save(self, entries: dict[str, PageEntry]) -> None:
        record = {"releases": [asdict(entry) for entry in entries.values()]}
        _write_atomically(self.directory / RECORD, json.dumps(record, indent=2))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time across the service's replicas sharing the directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _entry(item: dict[str, Any]) -> PageEntry:
    return PageEntry(
        version=item["version"],
        line=item["line"],
        tag=item["tag"],
        candidate_id=item["candidate_id"],
        files=tuple(
            PageFile(f["name"], FileKind(f["kind"]), f["sha256"], int(f["size"]))
            for f in item["files"]
        ),
        ticket_ids=tuple(item.get("ticket_ids", ())),
        cve_ids=tuple(item.get("cve_ids", ())),
        withdrawn_reason=item.get("withdrawn_reason"),
    )


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as content:
        while chunk := content.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.draft")
    draft.write_text(text)
    draft.replace(path)
