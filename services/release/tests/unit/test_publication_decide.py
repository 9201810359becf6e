"""Publication's pure decisions: who publishes or withdraws, which files a sealed candidate
releases, the URLs per channel in ReleasePublished, the previous safe version, and that a
withdrawal is recorded once per channel."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from lts_events.actors import Role
from lts_events.contracts.release.candidates import Bump, CandidateOpened, IncludedBackport
from lts_events.contracts.release.publication import (
    ChannelFile,
    ChannelPublished,
    FileKind,
    PublicationRule,
    ReleaseMarkedUnsafe,
    ReleaseYanked,
)
from lts_events.contracts.release.staging import (
    ArtifactStored,
    CandidateSealed,
    SbomRef,
    SbomSource,
    StagedFile,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_release.channels.base import Withdrawn
from lts_release.publication.decide import (
    LineRelease,
    PublicationView,
    may_publish,
    may_withdraw,
    previous_safe_version,
    release_published,
    sealed_release,
    withdrawal_events,
)

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def digest(seed: str) -> str:
    import hashlib

    return hashlib.sha256(seed.encode()).hexdigest()


def staged(path: str) -> StagedFile:
    return StagedFile(path=path, sha256=digest(path), size=len(path))


def backport(ticket: int, *cves: str) -> IncludedBackport:
    return IncludedBackport(
        ticket_id=ticket,
        cve_ids=cves,
        patch_branch=f"backport/{ticket}-1.4",
        commit="a" * 40,
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=False,
        fast_tracked=False,
    )


OPENED = CandidateOpened(
    candidate_id="1.4.3rc1",
    line="1.4",
    version="1.4.3",
    rc=1,
    tag="v1.4.3rc1",
    final_tag="v1.4.3",
    previous_version="1.4.2",
    bump=Bump.PATCH,
    backports=(backport(101, "CVE-2026-0001"), backport(102, "CVE-2026-0001", "CVE-2026-0002")),
    rollout_strategy=RolloutStrategy.STAGED_CANARY,
    emergency=False,
    opened_by="rm",
    opened_at=NOW,
)


def stored(name: str, sbom_for: str | None = None) -> ArtifactStored:
    return ArtifactStored(
        candidate_id="1.4.3rc1",
        name=name,
        size=len(name),
        sha256=digest(name),
        media_type="application/octet-stream",
        uploaded_by="ci",
        stored_at=NOW,
        sbom_for=sbom_for,
    )


SEALED = CandidateSealed(
    candidate_id="1.4.3rc1",
    version="1.4.3",
    line="1.4",
    sha256sums=staged("SHA256SUMS"),
    signatures=(staged("SHA256SUMS.sig"), staged("SHA256SUMS.cosign.sig")),
    public_key=staged("release.pub"),
    public_key_fingerprint="fp",
    signing_algorithm="ecdsa-p256-sha256",
    manifest=staged("manifest.json"),
    provenance=staged("provenance.intoto.json"),
    sboms=(
        SbomRef(
            artifact="app-1.4.3-py3-none-any.whl",
            file=staged("sbom/app-1.4.3-py3-none-any.whl.cdx.json"),
            source=SbomSource.UPLOADED,
        ),
    ),
    bundle=staged("release-1.4.3.tar.gz"),
    sealed_by="rm",
    sealed_at=NOW,
)


def view(**changes: object) -> PublicationView:
    base: dict[str, object] = {
        "opened": OPENED,
        "staged": (
            stored("app-1.4.3-py3-none-any.whl"),
            stored("ci-sbom.json", sbom_for="app-1.4.3-py3-none-any.whl"),
            stored("app-1.4.3.tar.gz"),
        ),
        "sealed": SEALED,
        "channels": {},
        "published": None,
        "withdrawn": frozenset(),
    }
    return PublicationView(**{**base, **changes})  # type: ignore[arg-type]


def test_only_a_release_manager_publishes_and_only_a_sealed_candidate() -> None:
    assert may_publish(view(), {Role.QA}).rule is PublicationRule.ROLE  # type: ignore[union-attr]
    assert may_publish(view(sealed=None), {Role.RELEASE_MANAGER}).rule is (  # type: ignore[union-attr]
        PublicationRule.NOT_SEALED
    )
    assert may_publish(view(), {Role.RELEASE_MANAGER}) is None


def test_a_withdrawn_version_is_not_published_again() -> None:
    refusal = may_publish(view(withdrawn=frozenset({"pypi"})), {Role.RELEASE_MANAGER})

    assert refusal is not None
    assert refusal.rule is PublicationRule.WITHDRAWN


def test_an_sre_withdraws_only_what_was_published() -> None:
    refusal = may_withdraw(view(), {Role.SRE})

    assert refusal is not None
    assert refusal.rule is PublicationRule.NOT_PUBLISHED


def test_a_sealed_candidate_releases_its_artifacts_then_the_seal_outputs() -> None:
    release = sealed_release(view())

    assert [(f.name, f.kind) for f in release.files] == [
        ("app-1.4.3-py3-none-any.whl", FileKind.ARTIFACT),
        ("app-1.4.3.tar.gz", FileKind.ARTIFACT),
        ("SHA256SUMS", FileKind.CHECKSUMS),
        ("SHA256SUMS.sig", FileKind.SIGNATURE),
        ("SHA256SUMS.cosign.sig", FileKind.SIGNATURE),
        ("release.pub", FileKind.PUBLIC_KEY),
        ("manifest.json", FileKind.MANIFEST),
        ("provenance.intoto.json", FileKind.PROVENANCE),
        ("sbom/app-1.4.3-py3-none-any.whl.cdx.json", FileKind.SBOM),
        ("release-1.4.3.tar.gz", FileKind.BUNDLE),
    ]
    assert (release.version, release.tag) == ("1.4.3", "v1.4.3")
    assert release.ticket_ids == (101, 102)
    assert release.cve_ids == ("CVE-2026-0001", "CVE-2026-0002")


def test_each_file_gets_the_url_of_every_channel_holding_it() -> None:
    release = sealed_release(view())
    wheel, sums = release.files[0], release.files[2]
    held_by = [
        ChannelPublished(
            candidate_id="1.4.3rc1",
            version="1.4.3",
            line="1.4",
            channel="pypi",
            files=(ChannelFile(name=wheel.name, sha256=wheel.sha256, url="http://i/w", sent=True),),
            published_at=NOW,
        ),
        ChannelPublished(
            candidate_id="1.4.3rc1",
            version="1.4.3",
            line="1.4",
            channel="release-page",
            files=tuple(
                ChannelFile(name=f.name, sha256=f.sha256, url=f"http://p/{f.name}", sent=True)
                for f in release.files
            ),
            page_url="http://p/",
            published_at=NOW,
        ),
    ]

    event = release_published(
        release, held_by, previous_safe="1.4.2", published_by="rm", published_at=NOW
    )

    by_name = {a.name: a for a in event.artifacts}
    assert by_name[wheel.name].urls == {
        "pypi": "http://i/w",
        "release-page": f"http://p/{wheel.name}",
    }
    assert by_name[sums.name].urls == {"release-page": "http://p/SHA256SUMS"}
    assert event.channels == ("pypi", "release-page")
    assert event.release_page_url == "http://p/"
    assert (event.ticket_ids, event.previous_safe_version) == ((101, 102), "1.4.2")


def test_the_previous_safe_version_skips_withdrawn_and_newer_versions() -> None:
    releases = [
        LineRelease("1.4.0", withdrawn=False),
        LineRelease("1.4.1", withdrawn=False),
        LineRelease("1.4.2", withdrawn=True),
        LineRelease("1.4.10", withdrawn=False),
    ]

    assert previous_safe_version(releases, "1.4.3") == "1.4.1"
    assert previous_safe_version(releases, "1.4.11") == "1.4.10"
    assert previous_safe_version(releases, "1.4.0") is None


@given(
    st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=12),
    st.integers(0, 31),
)
def test_the_previous_safe_version_is_never_withdrawn_nor_newer(
    published: list[tuple[int, bool]], patch: int
) -> None:
    releases = [LineRelease(f"1.4.{p}", withdrawn=w) for p, w in published]

    found = previous_safe_version(releases, f"1.4.{patch}")

    safe_below = [p for p, w in published if not w and p < patch]
    if safe_below:
        assert found == f"1.4.{max(safe_below)}"
    else:
        assert found is None


def test_a_withdrawal_yanks_where_it_can_marks_unsafe_elsewhere_and_never_twice() -> None:
    release = sealed_release(view())
    published = release_published(
        release, [], previous_safe=None, published_by="rm", published_at=NOW
    )
    outcomes = [Withdrawn("pypi", "marked_unsafe"), Withdrawn("release-page", "yanked")]

    first = withdrawal_events(
        published, outcomes, already=frozenset(), reason="rolled back", actor="sre", at=NOW
    )
    again = withdrawal_events(
        published,
        outcomes,
        already=frozenset({"pypi", "release-page"}),
        reason="rolled back",
        actor="sre",
        at=NOW,
    )

    assert [type(e) for e in first] == [ReleaseYanked, ReleaseMarkedUnsafe]
    assert first[1].channels == ("pypi",)  # type: ignore[union-attr]
    assert first[0].ticket_ids == (101, 102)
    assert again == []
