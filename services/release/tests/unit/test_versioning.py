from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lts_events.contracts.release.candidates import Bump, CandidateRule
from lts_release.candidates.versioning import (
    Allowed,
    Refused,
    choose_version,
    final_tag,
    final_version,
    rc_tag,
)
from packaging.version import Version

LAST = Version("1.4.2")


def test_the_next_version_is_the_last_published_one_plus_one_patch() -> None:
    chosen = choose_version("1.4", LAST, None, exceptions=())

    assert chosen == Allowed(Version("1.4.3"), Bump.PATCH, exception=False)


def test_a_line_with_nothing_published_starts_at_its_x_y_0() -> None:
    chosen = choose_version("1.3", None, None, exceptions=())

    assert chosen == Allowed(Version("1.3.0"), Bump.FIRST, exception=False)


def test_a_minor_bump_is_refused_naming_the_patch_only_rule() -> None:
    chosen = choose_version("1.4", LAST, Version("1.5.0"), exceptions=())

    assert isinstance(chosen, Refused)
    assert chosen.rule is CandidateRule.PATCH_ONLY
    assert "1.4.3" in chosen.reason


def test_a_skipped_patch_number_is_refused_too() -> None:
    chosen = choose_version("1.4", LAST, Version("1.4.5"), exceptions=())

    assert isinstance(chosen, Refused)
    assert chosen.rule is CandidateRule.PATCH_ONLY


def test_an_engineering_lead_s_exception_allows_exactly_its_version() -> None:
    allowed = choose_version("1.4", LAST, Version("2.0.0"), exceptions={Version("2.0.0")})
    other = choose_version("1.4", LAST, Version("1.5.0"), exceptions={Version("2.0.0")})

    assert allowed == Allowed(Version("2.0.0"), Bump.MAJOR, exception=True)
    assert isinstance(other, Refused)


def test_a_version_not_above_the_last_published_is_never_allowed() -> None:
    chosen = choose_version("1.4", LAST, Version("1.4.2"), exceptions={Version("1.4.2")})

    assert isinstance(chosen, Refused)
    assert chosen.rule is CandidateRule.VERSION_NOT_NEWER


def test_tags_follow_pep_440_so_an_rc_sorts_before_its_final() -> None:
    version = Version("1.4.3")

    assert (rc_tag(version, 2), final_tag(version)) == ("v1.4.3rc2", "v1.4.3")
    assert Version(rc_tag(version, 2)) < Version(final_tag(version))


def test_only_a_plain_x_y_z_is_a_final_version() -> None:
    assert final_version("1.4.3") == Version("1.4.3")
    assert [final_version(t) for t in ("1.4.3rc1", "1.4", "1.4.3.post1", "1.4.3+x", "x")] == [
        None
    ] * 5


parts = st.integers(min_value=0, max_value=30)


@given(parts, parts, parts, st.none() | st.tuples(parts, parts, parts))
def test_no_version_beyond_the_next_patch_without_an_exception(
    major: int, minor: int, patch: int, asked: tuple[int, int, int] | None
) -> None:
    line = f"{major}.{minor}"
    last = Version(f"{line}.{patch}")
    requested = Version(".".join(map(str, asked))) if asked else None

    chosen = choose_version(line, last, requested, exceptions=())

    if isinstance(chosen, Allowed):
        assert chosen.version == Version(f"{major}.{minor}.{patch + 1}")
        assert chosen.bump is Bump.PATCH
        assert not chosen.exception


@given(parts, parts, parts, st.tuples(parts, parts, parts))
def test_an_exception_never_allows_a_version_below_the_last_published(
    major: int, minor: int, patch: int, asked: tuple[int, int, int]
) -> None:
    last = Version(f"{major}.{minor}.{patch}")
    requested = Version(".".join(map(str, asked)))

    chosen = choose_version(f"{major}.{minor}", last, requested, exceptions={requested})

    if isinstance(chosen, Allowed):
        assert chosen.version > last
