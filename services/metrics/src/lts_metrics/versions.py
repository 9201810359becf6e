"""LTS lines and patch numbers read from versions and branch names, one rule for every metric:
a line is `X.Y` (as in the support matrix, `lts_events.support`), a patch the `Z` of `X.Y.Z`."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
_LINE = re.compile(r"(\d+)\.(\d+)")


def line_and_patch(version: str) -> tuple[str, int] | None:
    """'1.4.3', 'v1.4.3', 'v1.4.3-lts' -> ('1.4', 3); anything else (no patch number) -> None."""
    match = _VERSION.match(version.strip())
    if match is None:
        return None
    return f"{int(match[1])}.{int(match[2])}", int(match[3])


def patch_sql(column: str) -> str:
    """The SQL of `line_and_patch`'s patch of a text column (same pattern; NULL without one)."""
    return f"(regexp_match(btrim({column}), '{_VERSION.pattern}'))[3]::integer"


def line_of(name: str) -> str | None:
    """The line a version, tag or branch names (its first `X.Y`): 'release-lts/v1.4',
    'lts/v1.4/issue-12', 'v1.4.3rc1', '1.4' -> '1.4'; 'main' -> None."""
    found = line_and_patch(name)
    if found is not None:
        return found[0]
    match = _LINE.search(name.strip())
    return None if match is None else f"{int(match[1])}.{int(match[2])}"
