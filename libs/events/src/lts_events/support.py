"""The support matrix, one for every service: which LTS lines exist, until when each is
supported, and which lines a reported version or range touches.

Default (`DEFAULT_LINES`): the lines of lts-process.md's worked example, release-lts/v1.4 and
release-lts/v1.3, plus v1.2 (its hotfix example) whose support ended 2026-06-30. Deployments
set `LTS_SUPPORT_MATRIX` (JSON: `[{"version": "1.4", "end_of_support": "2028-12-31"}, ...]`),
read by intake and triage alike.

Versions are read as PEP 440 (`packaging`): an exact version ('1.4.2', 'v1.4.2', the
runbook's tags 'v1.4.2-lts' and 'v1.2.4-hotfix1'), a line
('1.4', 'v1.4', '1.4.x', '1.4.*', 'release-lts/v1.4'), a specifier set ('>=1.2,<1.4.5',
GitHub's '>= 1.3.0, < 1.3.9' and '= 1.4.2'), optionally after a package name ('ltsapp <2.0',
'ltsapp *' = every version). A range touches every line it covers, not only the lines of its
bounds. Blank or unreadable text names no version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field

SUPPORT_MATRIX_ENV = "LTS_SUPPORT_MATRIX"


@dataclass(frozen=True, slots=True)
class LtsLine:
    version: str  # "1.4"
    end_of_support: date

    @property
    def branch(self) -> str:
        return f"release-lts/v{self.version}"

    def patch_branch(self, ticket_id: int) -> str:
        return f"lts/v{self.version}/issue-{ticket_id}"

    def supported_on(self, day: date) -> bool:
        return day <= self.end_of_support

    @property
    def sort_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split("."))


DEFAULT_LINES: tuple[LtsLine, ...] = (
    LtsLine("1.4", date(2028, 12, 31)),
    LtsLine("1.3", date(2027, 6, 30)),
    LtsLine("1.2", date(2026, 6, 30)),
)


class LtsLineSetting(BaseModel):
    """One line as configured (`LTS_SUPPORT_MATRIX`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(pattern=r"^\d+\.\d+$")
    end_of_support: date

    def line(self) -> LtsLine:
        return LtsLine(self.version, self.end_of_support)


def default_line_settings() -> list[LtsLineSetting]:
    return [
        LtsLineSetting(version=x.version, end_of_support=x.end_of_support) for x in DEFAULT_LINES
    ]


def lines_of(settings: Iterable[LtsLineSetting]) -> tuple[LtsLine, ...]:
    return newest_first(setting.line() for setting in settings)


def newest_first(lines: Iterable[LtsLine]) -> tuple[LtsLine, ...]:
    return tuple(sorted(lines, key=lambda line: line.sort_key, reverse=True))


@lru_cache(maxsize=256)
def supported_lines(lines: tuple[LtsLine, ...], day: date) -> tuple[LtsLine, ...]:
    """Newest first; the table changes once a day at most, so it is sorted once per day."""
    return newest_first(line for line in lines if line.supported_on(day))


def lines_touched(versions: Iterable[str], lines: Sequence[LtsLine]) -> tuple[LtsLine, ...]:
    """The lines (of `lines`, whatever their support) that any of the versions touches,
    newest first."""
    return _lines_touched(tuple(versions), tuple(lines))


# Tickets repeat the same versions and the matrix rarely changes: each answer is computed once,
# keyed by strings and lines (cheap to hash; a SpecifierSet's hash is not).
@lru_cache(maxsize=4096)
def _lines_touched(versions: tuple[str, ...], lines: tuple[LtsLine, ...]) -> tuple[LtsLine, ...]:
    return newest_first({line for text in versions for line in _touched_by(text, lines)})


@lru_cache(maxsize=4096)
def _touched_by(text: str, lines: tuple[LtsLine, ...]) -> tuple[LtsLine, ...]:
    specifier = _specifier(text)
    if specifier is None:
        return ()
    return tuple(line for line in lines if _touches(specifier, _series(line.version)))


def affected_lines(
    versions: Iterable[str], lines: Sequence[LtsLine], day: date
) -> tuple[LtsLine, ...]:
    """The lines the versions touch that are supported on `day`, newest first."""
    return tuple(line for line in lines_touched(versions, lines) if line.supported_on(day))


def names_a_version(text: str) -> bool:
    """Does the text name a version or range at all (in the matrix or not)?"""
    return _specifier(text) is not None


# ---------------------------------------------------------------- reading versions --------

_LINE = re.compile(r"^(?:release-lts/)?v?(\d+)\.(\d+)(?:\.[x*])?$", re.IGNORECASE)
_PACKAGE = re.compile(r"^[A-Za-z0-9][\w.:-]*\s+(?=[<>=!~*])")
_OPERATOR = re.compile(r"^(===|==|!=|~=|<=|>=|<|>|=)\s*")


@lru_cache(maxsize=4096)
def _specifier(text: str) -> SpecifierSet | None:
    """The versions a text names, as a specifier set (empty: every version); None when blank
    or unreadable."""
    cleaned = _PACKAGE.sub("", text.strip())
    if cleaned == "*":
        return SpecifierSet("")
    line = _LINE.match(cleaned)
    if line:
        return SpecifierSet(f"=={line[1]}.{line[2]}.*")
    if cleaned[:1].isdigit() or cleaned[:1] in "vV":
        return _exact(cleaned.lstrip("vV"))
    parts = [_OPERATOR.sub(_normalized_operator, p.strip()) for p in cleaned.split(",")]
    try:
        return SpecifierSet(",".join(parts)) if all(parts) else None
    except InvalidSpecifier:
        return None


def _normalized_operator(match: re.Match[str]) -> str:
    return "==" if match[1] == "=" else match[1]  # GitHub writes '= 1.2' for one version


_TAGGED = re.compile(
    r"^(\d+(?:\.\d+)+)-[A-Za-z][\w.-]*$"
)  # the runbook's tags: 1.4.2-lts, 1.2.4-hotfix1


def _exact(text: str) -> SpecifierSet | None:
    tagged = _TAGGED.match(text)
    for candidate in (text, tagged[1] if tagged else None):
        try:
            return SpecifierSet(f"=={Version(candidate)}") if candidate else None
        except InvalidVersion:
            continue
    return None


def _series(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def _touches(specifier: SpecifierSet, series: tuple[int, int]) -> bool:
    """Does a final release X.Y.* satisfy the specifier? The satisfying releases form intervals
    whose lowest members are the line's first release, a bound, or just above a bound, so those
    candidates decide it exactly."""
    major, minor = series
    candidates = {Version(f"{major}.{minor}")}
    for clause in specifier:
        try:
            bound = Version(Version(clause.version.removesuffix(".*")).base_version)
        except InvalidVersion:
            continue
        candidates |= {bound, Version(f"{bound}.1")}
    return any(
        v.release[:2] == series and specifier.contains(v, prereleases=False) for v in candidates
    )
