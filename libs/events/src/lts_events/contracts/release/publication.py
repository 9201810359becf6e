"""Publication of a sealed release candidate to its channels (owned by the release service's
`channels` part). Stream: the candidate's (`candidate_stream(candidate_id)`).

A release manager publishes a sealed candidate: each channel (the package index, the release
page, ...) gets the files it hosts, recorded per channel as `ChannelPublished` once it holds
them; when every channel did, `ReleasePublished` names the version, its artifacts with digests
and one URL per channel, the tickets and CVEs it ships and the line's previous safe version.
A retried publish skips the channels already recorded and a channel skips the files it already
holds, so nothing is sent twice and `ReleasePublished` is recorded once. A transient channel
error (unreachable, 5xx, 429) is retried and, still failing, answered 503 without an event; an
error a retry cannot fix (refused credentials, a different file under the same name) is
`PublicationFailed` for that channel.

Withdrawing a version (a rollback, or a release manager) is `ReleaseYanked` on each channel
that can yank and `ReleaseMarkedUnsafe` for the others: recorded on our side, shown on the
release page, and never the line's safe version again. Refused requests are
`PublicationRefused`, a publish or withdraw whose `If-Match` names another version than the
candidate's too (checked before any channel is asked). Who and why are also in each event's
metadata (actor, reason).

`ticket_ids` name every ticket the release ships, for their audit timelines."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lts_events.actors import Role
from lts_events.event import Event

SHA256_PATTERN = r"^[0-9a-f]{64}$"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileKind(StrEnum):
    """What a published file is: the candidate's artifacts, and its staged outputs."""

    ARTIFACT = "artifact"  # a wheel, sdist, tarball or any file CI uploaded
    CHECKSUMS = "checksums"  # SHA256SUMS
    SIGNATURE = "signature"  # a detached signature (of SHA256SUMS)
    PUBLIC_KEY = "public_key"
    MANIFEST = "manifest"
    PROVENANCE = "provenance"  # the DSSE-signed in-toto statement
    SBOM = "sbom"
    BUNDLE = "bundle"  # the offline bundle holding all of the above


class ChannelFile(_Value):
    """One file a channel holds: where it is downloaded from, and whether this publish sent it
    (`sent=False`: the channel already held the same bytes, from an earlier attempt)."""

    name: str
    sha256: str = Field(pattern=SHA256_PATTERN)
    url: str
    sent: bool


class PublishedFile(_Value):
    """A file of the release with its digest and its URL on each channel that hosts it."""

    name: str
    kind: FileKind
    sha256: str = Field(pattern=SHA256_PATTERN)
    size: int = Field(ge=0)
    urls: dict[str, str] = Field(default_factory=dict, description="channel -> download URL")


class ChannelPublished(Event):
    """One channel holds the release's files it hosts."""

    type: ClassVar[str] = "lts.release.channel_published"

    candidate_id: str
    version: str
    line: str
    channel: str
    files: tuple[ChannelFile, ...]
    page_url: str | None = Field(default=None, description="The channel's page of the version")
    published_at: datetime


class PublicationFailed(Event):
    """A channel refused the release for a reason a retry does not fix; nothing more is sent
    to it until a release manager publishes again."""

    type: ClassVar[str] = "lts.release.publication_failed"

    candidate_id: str
    version: str
    channel: str
    error: str
    file: str | None = None
    status_code: int | None = None
    failed_at: datetime


class ReleasePublished(Event):
    """The version is out on every channel: the fact rollouts, comms and metrics act on."""

    type: ClassVar[str] = "lts.release.release_published"

    candidate_id: str
    version: str
    line: str
    tag: str
    channels: tuple[str, ...]
    artifacts: tuple[PublishedFile, ...]
    release_page_url: str | None = None
    ticket_ids: tuple[int, ...]
    cve_ids: tuple[str, ...] = ()
    previous_safe_version: str | None
    published_by: str
    published_at: datetime


class ReleaseYanked(Event):
    """A channel withdrew the version the way it can (e.g. PEP 592 yank, the release page's
    notice): installers skip it unless pinned."""

    type: ClassVar[str] = "lts.release.release_yanked"

    candidate_id: str
    version: str
    line: str
    channel: str
    reason: str
    ticket_ids: tuple[int, ...] = ()
    yanked_by: str
    yanked_at: datetime


class ReleaseMarkedUnsafe(Event):
    """The version is unsafe, recorded on our side for the channels that cannot yank it
    (`channels`); it is never a line's safe version again."""

    type: ClassVar[str] = "lts.release.release_marked_unsafe"

    candidate_id: str
    version: str
    line: str
    channels: tuple[str, ...]
    reason: str
    ticket_ids: tuple[int, ...] = ()
    marked_by: str
    marked_at: datetime


class PublicationRule(StrEnum):
    """The rule a refused publication request broke (named in the 4xx answer too)."""

    ROLE = "release-manager-only"
    NOT_SEALED = "sealed-candidates-only"
    WITHDRAWN = "withdrawn-versions-stay-withdrawn"
    NOT_PUBLISHED = "published-versions-only"
    PRECONDITION_FAILED = "if-match-names-the-current-version"  # 412: a stale If-Match


class PublicationRefused(Event):
    """A refused publish or withdraw request, for the audit."""

    type: ClassVar[str] = "lts.release.publication_refused"

    candidate_id: str
    actor: str
    held_roles: tuple[Role, ...]
    action: Literal["publish", "withdraw"]
    rule: PublicationRule
    reason: str
    refused_at: datetime
