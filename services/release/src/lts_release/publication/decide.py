"""Publication decisions, pure: who may publish or withdraw what, which files a sealed
candidate releases, what `ReleasePublished` says, and the line's previous safe version.
The shell (`service.py`) loads, calls the channels and appends; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lts_events.actors import Role
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.publication import (
    ChannelPublished,
    FileKind,
    PublicationRule,
    PublishedFile,
    ReleaseMarkedUnsafe,
    ReleasePublished,
    ReleaseYanked,
)
from lts_events.contracts.release.staging import ArtifactStored, CandidateSealed, StagedFile
from packaging.version import InvalidVersion, Version

from lts_release.channels.base import ReleaseFile, SealedRelease, Withdrawn

PUBLISHERS = frozenset({Role.RELEASE_MANAGER})
WITHDRAWERS = frozenset({Role.RELEASE_MANAGER, Role.SRE})


@dataclass(frozen=True)
class Refusal:
    rule: PublicationRule
    reason: str


@dataclass(frozen=True)
class PublicationView:
    """What publication needs of a candidate (its fold, as plain values)."""

    opened: CandidateOpened | None
    staged: tuple[ArtifactStored, ...]
    sealed: CandidateSealed | None
    channels: Mapping[str, ChannelPublished]
    published: ReleasePublished | None
    withdrawn: frozenset[str]
    """The channels the version was yanked from or marked unsafe on."""


def may_publish(view: PublicationView, roles: Iterable[Role]) -> Refusal | None:
    if not PUBLISHERS & set(roles):
        return Refusal(PublicationRule.ROLE, "only a release manager publishes")
    if view.sealed is None:
        return Refusal(
            PublicationRule.NOT_SEALED, "only a sealed candidate is published: seal it first"
        )
    if view.withdrawn:
        return Refusal(
            PublicationRule.WITHDRAWN,
            f"{view.sealed.version} was withdrawn from {', '.join(sorted(view.withdrawn))}",
        )
    return None


def stale(current_etag: str) -> Refusal:
    """A publish or withdraw whose `If-Match` names another version than `current_etag`."""
    return Refusal(
        PublicationRule.PRECONDITION_FAILED,
        f"If-Match names another version than the candidate's ({current_etag}); read again",
    )


def may_withdraw(view: PublicationView, roles: Iterable[Role]) -> Refusal | None:
    if not WITHDRAWERS & set(roles):
        return Refusal(PublicationRule.ROLE, "only a release manager or an SRE withdraws")
    if view.published is None:
        return Refusal(PublicationRule.NOT_PUBLISHED, "only a published version is withdrawn")
    return None


def _staged(file: StagedFile, kind: FileKind) -> ReleaseFile:
    return ReleaseFile(name=file.path, kind=kind, sha256=file.sha256, size=file.size)


def sealed_release(view: PublicationView) -> SealedRelease:
    """The files a sealed candidate releases: its artifacts (CI's SBOM uploads are among the
    seal's SBOMs), then the seal's outputs, each with its kind."""
    opened, sealed = view.opened, view.sealed
    if opened is None or sealed is None:
        raise ValueError("only an opened, sealed candidate is released")
    artifacts = [
        ReleaseFile(name=a.name, kind=FileKind.ARTIFACT, sha256=a.sha256, size=a.size)
        for a in view.staged
        if a.sbom_for is None
    ]
    outputs = [
        _staged(sealed.sha256sums, FileKind.CHECKSUMS),
        *(_staged(signature, FileKind.SIGNATURE) for signature in sealed.signatures),
        _staged(sealed.public_key, FileKind.PUBLIC_KEY),
        _staged(sealed.manifest, FileKind.MANIFEST),
        _staged(sealed.provenance, FileKind.PROVENANCE),
        *(_staged(ref.file, FileKind.SBOM) for ref in sealed.sboms),
        _staged(sealed.bundle, FileKind.BUNDLE),
    ]
    return SealedRelease(
        candidate_id=opened.candidate_id,
        version=sealed.version,
        line=sealed.line,
        tag=opened.final_tag,
        files=(*artifacts, *outputs),
        ticket_ids=tuple(dict.fromkeys(b.ticket_id for b in opened.backports)),
        cve_ids=tuple(dict.fromkeys(cve for b in opened.backports for cve in b.cve_ids)),
    )


def pending_channels(view: PublicationView, channels: Sequence[str]) -> list[str]:
    """The channels that do not hold the release yet, in the given order."""
    return [name for name in channels if name not in view.channels]


@dataclass(frozen=True)
class LineRelease:
    """A published version of a line and whether it was withdrawn since."""

    version: str
    withdrawn: bool


def _parsed(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def previous_safe_version(releases: Iterable[LineRelease], version: str) -> str | None:
    """The newest version below `version` that was published and never withdrawn: where a
    rollback of `version` lands."""
    current = _parsed(version)
    candidates = [
        (parsed, release.version)
        for release in releases
        if not release.withdrawn
        and (parsed := _parsed(release.version)) is not None
        and (current is None or parsed < current)
    ]
    return max(candidates)[1] if candidates else None


def release_published(
    release: SealedRelease,
    channels: Sequence[ChannelPublished],
    *,
    previous_safe: str | None,
    published_by: str,
    published_at: datetime,
) -> ReleasePublished:
    """One entry per file of the release, with the URL of every channel holding it."""
    urls: dict[str, dict[str, str]] = {file.name: {} for file in release.files}
    for published in channels:
        for held in published.files:
            urls.setdefault(held.name, {})[published.channel] = held.url
    page = next((c.page_url for c in channels if c.page_url), None)
    return ReleasePublished(
        candidate_id=release.candidate_id,
        version=release.version,
        line=release.line,
        tag=release.tag,
        channels=tuple(c.channel for c in channels),
        artifacts=tuple(
            PublishedFile(
                name=file.name,
                kind=file.kind,
                sha256=file.sha256,
                size=file.size,
                urls=urls[file.name],
            )
            for file in release.files
        ),
        release_page_url=page,
        ticket_ids=release.ticket_ids,
        cve_ids=release.cve_ids,
        previous_safe_version=previous_safe,
        published_by=published_by,
        published_at=published_at,
    )


def withdrawal_events(
    published: ReleasePublished,
    outcomes: Sequence[Withdrawn],
    *,
    already: frozenset[str],
    reason: str,
    actor: str,
    at: datetime,
) -> list[ReleaseYanked | ReleaseMarkedUnsafe]:
    """`ReleaseYanked` per channel that yanked, one `ReleaseMarkedUnsafe` naming the channels
    that could not; channels withdrawn before (`already`) are not recorded twice."""
    fresh = [outcome for outcome in outcomes if outcome.channel not in already]
    events: list[ReleaseYanked | ReleaseMarkedUnsafe] = [
        ReleaseYanked(
            candidate_id=published.candidate_id,
            version=published.version,
            line=published.line,
            channel=outcome.channel,
            reason=reason,
            ticket_ids=published.ticket_ids,
            yanked_by=actor,
            yanked_at=at,
        )
        for outcome in fresh
        if outcome.outcome == "yanked"
    ]
    unsafe = tuple(o.channel for o in fresh if o.outcome == "marked_unsafe")
    if unsafe:
        events.append(
            ReleaseMarkedUnsafe(
                candidate_id=published.candidate_id,
                version=published.version,
                line=published.line,
                channels=unsafe,
                reason=reason,
                ticket_ids=published.ticket_ids,
                marked_by=actor,
                marked_at=at,
            )
        )
    return events
