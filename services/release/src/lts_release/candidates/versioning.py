"""The LTS version policy, pure (PEP 440 via `packaging.version`): a line's releases are patch
releases only. The next version is the line's last published one with the patch number plus one
(X.Y.Z -> X.Y.Z+1; X.Y.0 when nothing was published). Any other version (a minor or major bump,
or a skipped patch number) needs an engineering lead's exception recorded for exactly that
version on that line; a version not above the last published one is never allowed.

Tags: an RC is `vX.Y.Z` + `rcN` (`v1.4.3rc1`, PEP 440's pre-release spelling, so tags, package
versions and `packaging` agree and sort RC before final); the final is `vX.Y.Z`. The candidate id
is the RC's version without the `v` (`1.4.3rc1`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from lts_events.contracts.release.candidates import Bump, CandidateRule
from packaging.version import InvalidVersion, Version


def final_version(text: str) -> Version | None:
    """`text` as a final release X.Y.Z (no pre, post, dev or local part), else None."""
    try:
        version = Version(text)
    except InvalidVersion:
        return None
    plain = not (version.is_prerelease or version.is_postrelease or version.local)
    return version if plain and len(version.release) == 3 else None


def line_of(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def next_patch(line: str, last: Version | None) -> Version:
    if last is None:
        return Version(f"{line}.0")
    return Version(f"{last.major}.{last.minor}.{last.micro + 1}")


def bump_of(line: str, last: Version | None, version: Version) -> Bump:
    if last is None and version == next_patch(line, None):
        return Bump.FIRST
    base = last or Version(f"{line}.0")
    if version.major != base.major:
        return Bump.MAJOR
    if version.minor != base.minor:
        return Bump.MINOR
    return Bump.PATCH


@dataclass(frozen=True, slots=True)
class Allowed:
    version: Version
    bump: Bump
    exception: bool  # allowed only by an engineering lead's exception

    @property
    def text(self) -> str:
        return str(self.version)


@dataclass(frozen=True, slots=True)
class Refused:
    rule: CandidateRule
    reason: str


def choose_version(
    line: str,
    last: Version | None,
    requested: Version | None,
    *,
    exceptions: Collection[Version],
) -> Allowed | Refused:
    """The candidate's version: the next patch, or `requested` when the policy allows it."""
    expected = next_patch(line, last)
    version = requested or expected
    if last is not None and version <= last:
        why = f"{version} is not above {last}, the line's last published version"
        return Refused(CandidateRule.VERSION_NOT_NEWER, why)
    if version < Version(f"{line}.0"):
        return Refused(CandidateRule.OTHER_LINE, f"{version} is below line {line}")
    bump = bump_of(line, last, version)
    if version == expected:
        return Allowed(version, bump, exception=False)
    if version in exceptions:
        return Allowed(version, bump, exception=True)
    why = (
        f"LTS releases are patch-only: the next version of line {line} is {expected}; "
        f"{version} ({bump.value}) needs an engineering lead's version exception"
    )
    return Refused(CandidateRule.PATCH_ONLY, why)


def rc_id(version: Version, rc: int) -> str:
    return f"{version}rc{rc}"


def rc_tag(version: Version, rc: int) -> str:
    return f"v{rc_id(version, rc)}"


def final_tag(version: Version) -> str:
    return f"v{version}"
