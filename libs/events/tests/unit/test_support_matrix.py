"""The one support matrix: which LTS lines exist, until when, and which lines a reported version
or range touches."""

from __future__ import annotations

from datetime import date

import pytest
from lts_events.support import DEFAULT_LINES, LtsLine, lines_touched, names_a_version

DAY = date(2026, 11, 18)
LINES = (
    LtsLine("1.2", date(2026, 6, 30)),
    LtsLine("1.3", date(2027, 6, 30)),
    LtsLine("1.4", date(2028, 12, 31)),
    LtsLine("1.5", date(2029, 12, 31)),
)


def touched(*versions: str) -> list[str]:
    return [line.version for line in lines_touched(versions, LINES)]


@pytest.mark.parametrize(
    ("versions", "lines"),
    [
        (["1.4.2"], ["1.4"]),
        (["v1.4.1-lts", "v1.2.4-hotfix1"], ["1.4", "1.2"]),
        (["v1.3", "release-lts/v1.4"], ["1.4", "1.3"]),
        (["1.3.x", "1.5.*"], ["1.5", "1.3"]),
        ([">=1.2,<1.4.5"], ["1.4", "1.3", "1.2"]),
        (["ltsapp >=1.2,<1.4.5"], ["1.4", "1.3", "1.2"]),
        ([">= 1.3.0, < 1.3.9"], ["1.3"]),
        (["= 1.4.2"], ["1.4"]),
        (["<1.4.0"], ["1.3", "1.2"]),
        (["<=1.4.0"], ["1.4", "1.3", "1.2"]),
        ([">1.4.5,<1.4.6"], ["1.4"]),
        ([">=1.5.0rc1"], ["1.5"]),
        (["~=1.3.2"], ["1.3"]),
        (["!=1.4.*,>=1.3,<1.6"], ["1.5", "1.3"]),
        (["ltsapp *"], ["1.5", "1.4", "1.3", "1.2"]),
        (["9.9.9"], []),
    ],
)
def test_versions_and_ranges_touch_every_line_they_cover(
    versions: list[str], lines: list[str]
) -> None:
    assert touched(*versions) == lines


@pytest.mark.parametrize("text", ["", " ", "\t", "latest", "ltsapp", "n/a"])
def test_a_blank_or_unreadable_version_touches_no_line_and_names_no_version(text: str) -> None:
    assert touched(text) == []
    assert not names_a_version(text)


@pytest.mark.parametrize("text", ["1.4.2", "9.9.9", ">=1.2,<1.4.5", "release-lts/v1.2"])
def test_a_version_outside_the_matrix_still_names_a_version(text: str) -> None:
    assert names_a_version(text)


def test_the_default_matrix_supports_the_runbooks_lines() -> None:
    supported = [line.version for line in DEFAULT_LINES if line.supported_on(DAY)]

    assert supported == ["1.4", "1.3"]
    assert [line.branch for line in DEFAULT_LINES][:2] == ["release-lts/v1.4", "release-lts/v1.3"]
