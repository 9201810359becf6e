"""The channel protocol: where a sealed release is published, and how a version is withdrawn.

A channel gets a `SealedRelease` (the candidate's files by name, kind and SHA-256) and a
`FileSource` that opens a file by its digest (the staging part's content-addressed store fits
it as is). It answers with the URL of each file it hosts; files it does not host (a package
index takes only Python distributions) are left out. Publishing again what a channel already
holds sends nothing and answers the same URLs (`ChannelFile.sent=False`).

Errors: `TransientChannelError` when a later attempt may succeed (unreachable, 5xx, 429);
`ChannelError` when it will not (refused credentials, a different file under the same name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Literal, Protocol

from lts_events.contracts.release.publication import ChannelFile, FileKind


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a sealed release: its file name, what it is, its digest and size."""

    name: str
    kind: FileKind
    sha256: str
    size: int


@dataclass(frozen=True)
class SealedRelease:
    candidate_id: str
    version: str
    line: str
    tag: str
    files: tuple[ReleaseFile, ...]
    ticket_ids: tuple[int, ...] = ()
    cve_ids: tuple[str, ...] = ()

    def of_kind(self, *kinds: FileKind) -> tuple[ReleaseFile, ...]:
        return tuple(file for file in self.files if file.kind in kinds)


class FileSource(Protocol):
    def open(self, sha256: str) -> BinaryIO:
        """The file's bytes for reading (the caller closes it)."""
        ...


@dataclass(frozen=True)
class Published:
    """What one channel holds of a release after `publish`."""

    channel: str
    files: tuple[ChannelFile, ...]
    page_url: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a channel can do, for people and for the rollback: `yank` means it can withdraw a
    version itself; without it a withdrawal is recorded as marked unsafe on our side."""

    hosts: frozenset[FileKind]
    yank: bool


Withdrawal = Literal["yanked", "marked_unsafe"]


@dataclass(frozen=True)
class Withdrawn:
    """How a channel withdrew a version (`marked_unsafe`: it could not, we record it)."""

    channel: str
    outcome: Withdrawal


@dataclass(frozen=True)
class Withdrawing:
    """The version to withdraw and why (shown where the channel can show it)."""

    candidate_id: str
    version: str
    line: str
    reason: str


class ChannelError(RuntimeError):
    """The channel refused, and a retry will not change that."""

    def __init__(
        self, message: str, *, file: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.status_code = status_code


class TransientChannelError(ChannelError):
    """The channel could not be reached or failed on its side; a later attempt may succeed."""


class Channel(Protocol):
    """A place releases are published to (a package index, a release page, ...)."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def publish(self, release: SealedRelease, source: FileSource) -> Published:
        """Make the release's files that this channel hosts available; idempotent."""
        ...

    async def withdraw(self, withdrawing: Withdrawing) -> Withdrawn:
        """Yank the version where the channel can, else answer `marked_unsafe`; idempotent."""
        ...
