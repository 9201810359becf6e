"""The version of a stream's read model as an HTTP validator (RFC 9110 8.8.3 and 13.1).

- A GET of a read model of one stream sends its version as a strong `ETag` (`"7"`) and answers
  `304 Not Modified` when `If-None-Match` names it (`VersionedRead`).
- A command on such a stream takes `If-Match`: when it names another version the command is
  refused with `412 Precondition Failed` naming the current ETag (`PreconditionFailed`);
  without the header there is no precondition. The shell compares the header with the version
  it loaded and appends with that version as the store's expected version, so a writer that
  appends in between makes the append fail, the shell reload, and the comparison fail: the
  check is atomic with the append.

The version is the stream version of the newest event that is not a mere audit record
(`Versions.model`): a refused request is recorded on the stream it was refused on, and if that
moved the ETag, one client's refused request (or a 403 of someone without the role) would make
every other client's precondition stale without anything having changed.

Weak tags (`W/"7"`) are taken as the same version: a proxy that compresses an answer weakens
its ETag, and our tag names a version of the model, not the bytes of one representation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Response, status

from lts_events.envelope import RecordedEvent
from lts_events.event import Event
from lts_events.problems import Problem

# an entity-tag, weak or strong (its quoted text may hold commas), or leniently a bare token
# such as `7`; `*` is a bare token. What lies between them (commas, spaces) is skipped.
_TAG = re.compile(r'(?:W/)?"([^"]*)"|([^\s,"]+)')


def etag(version: int) -> str:
    """The strong ETag of a version: `"7"`."""
    return f'"{version}"'


@dataclass(frozen=True, slots=True)
class Tags:
    """The entity-tags an `If-Match` or `If-None-Match` header lists (`anything`: `*`)."""

    opaque: frozenset[str] = frozenset()
    anything: bool = False

    def name(self, version: int) -> bool:
        """Whether these tags name `version` (`*` names any version of an existing model)."""
        if self.anything:
            return version > 0
        return str(version) in self.opaque


def parse_tags(header: str | None) -> Tags | None:
    """The tags a conditional header lists; None when the header is absent or empty (no
    condition). Text that is no entity-tag of ours names no version."""
    if header is None or not header.strip():
        return None
    found = _TAG.findall(header)
    anything = any(bare == "*" for _, bare in found)
    return Tags(frozenset(quoted or bare for quoted, bare in found if bare != "*"), anything)


def is_stale(if_match: Tags | None, current: int) -> bool:
    """Whether a command with this `If-Match` must be refused (412) at version `current`."""
    return if_match is not None and not if_match.name(current)


def is_not_modified(if_none_match: Tags | None, current: int) -> bool:
    """Whether a GET with this `If-None-Match` is answered 304 at version `current`."""
    return if_none_match is not None and if_none_match.name(current)


@dataclass(frozen=True, slots=True)
class Versions:
    """A loaded stream's two versions: `stream`, the store's expected version for the next
    append; `model`, the read model's (the ETag): that of the newest event that is not a record
    of a refused request, 0 for none."""

    stream: int
    model: int

    @classmethod
    def of(
        cls, events: Sequence[RecordedEvent], *, audit_only: tuple[type[Event], ...]
    ) -> Versions:
        changes = (r for r in reversed(events) if not isinstance(r.event, audit_only))
        model = next((r.stream_version for r in changes), 0)
        return cls(events[-1].stream_version if events else 0, model)


class PreconditionFailed(Problem):
    """412 naming the current ETag, in the `ETag` header and the problem's `etag` member."""

    def __init__(self, current: int) -> None:
        tag = etag(current)
        super().__init__(
            status.HTTP_412_PRECONDITION_FAILED,
            f"If-Match names a version that is not the current one ({tag}); read again",
            headers={"ETag": tag},
            etag=tag,
        )
        self.current = current


def _if_match(if_match: Annotated[str | None, Header()] = None) -> Tags | None:
    return parse_tags(if_match)


IfMatch = Annotated[Tags | None, Depends(_if_match)]
"""A command route's parameter: the `If-Match` precondition, None without the header."""


@dataclass(frozen=True, slots=True)
class _Read:
    response: Response
    if_none_match: Tags | None

    def answer(self, version: int) -> None:
        """Send `version` as the ETag; raise 304 (no body) when `If-None-Match` names it."""
        if is_not_modified(self.if_none_match, version):
            raise HTTPException(status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(version)})
        self.response.headers["ETag"] = etag(version)


def _read(response: Response, if_none_match: Annotated[str | None, Header()] = None) -> _Read:
    return _Read(response, parse_tags(if_none_match))


VersionedRead = Annotated[_Read, Depends(_read)]
"""A GET route's parameter: `versioned.answer(version)` before returning the read model."""
