from __future__ import annotations

from datetime import UTC, datetime

from lts_events.contracts.release.candidates import Bump, CandidateOpened
from lts_events.contracts.release.staging import ArtifactStored
from lts_events.contracts.triage import RolloutStrategy
from lts_release.candidate import CandidateState, fold, status_of
from lts_release.staging.decide import (
    Received,
    Refusal,
    RefusalKind,
    artifacts_of,
    record_upload,
    refuse_seal,
    refuse_upload,
)

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
OPENED = CandidateOpened(
    candidate_id="1.4.5rc1",
    line="1.4",
    version="1.4.5",
    rc=1,
    tag="v1.4.5rc1",
    final_tag="v1.4.5",
    previous_version="1.4.4",
    bump=Bump.PATCH,
    backports=(),
    rollout_strategy=RolloutStrategy.IMMEDIATE,
    emergency=False,
    opened_by="rm",
    opened_at=NOW,
)


def received(name: str = "a.whl", sha: str = "a" * 64, sbom_for: str | None = None) -> Received:
    return Received(name, sha, 10, "application/zip", sbom_for)


def recorded(state: CandidateState, upload: Received) -> ArtifactStored | Refusal | None:
    return record_upload(state, upload, uploaded_by="ci", now=NOW)


def test_a_new_artifact_is_recorded_with_its_digest() -> None:
    stored = recorded(fold([OPENED]), received())

    assert isinstance(stored, ArtifactStored)
    assert (stored.name, stored.sha256, stored.uploaded_by) == ("a.whl", "a" * 64, "ci")


def test_the_same_bytes_again_record_nothing() -> None:
    first = recorded(fold([OPENED]), received())
    assert isinstance(first, ArtifactStored)

    assert recorded(fold([OPENED, first]), received()) is None


def test_other_bytes_under_a_staged_name_are_a_conflict() -> None:
    first = recorded(fold([OPENED]), received())
    assert isinstance(first, ArtifactStored)

    refused = recorded(fold([OPENED, first]), received(sha="b" * 64))

    assert isinstance(refused, Refusal)
    assert refused.kind is RefusalKind.CONFLICT


def test_an_sbom_must_name_an_uploaded_artifact() -> None:
    refusal = refuse_upload(fold([OPENED]), "1.4.5rc1", "bom.json", "a.whl")

    assert refusal is not None
    assert refusal.kind is RefusalKind.INVALID


def test_an_uploaded_sbom_is_attached_to_its_artifact() -> None:
    wheel = recorded(fold([OPENED]), received())
    assert isinstance(wheel, ArtifactStored)
    bom = recorded(fold([OPENED, wheel]), received("bom.json", "c" * 64, sbom_for="a.whl"))
    assert isinstance(bom, ArtifactStored)

    artifacts = artifacts_of(fold([OPENED, wheel, bom]))

    assert [(a.name, a.uploaded_sbom_sha256) for a in artifacts] == [("a.whl", "c" * 64)]


def test_a_path_as_name_is_invalid() -> None:
    refusal = refuse_upload(fold([OPENED]), "1.4.5rc1", "../etc/passwd", None)

    assert refusal is not None
    assert refusal.kind is RefusalKind.INVALID


def test_an_unknown_candidate_is_not_found() -> None:
    refusal = refuse_upload(CandidateState(), "9.9.9rc1", "a.whl", None)

    assert refusal is not None
    assert refusal.kind is RefusalKind.NOT_FOUND


def test_a_candidate_without_artifacts_cannot_be_sealed() -> None:
    refusal = refuse_seal(fold([OPENED]), "1.4.5rc1")

    assert refusal is not None
    assert refusal.kind is RefusalKind.CONFLICT


def test_a_redelivered_upload_leaves_the_candidate_as_it_was() -> None:
    stored = recorded(fold([OPENED]), received())
    assert isinstance(stored, ArtifactStored)

    state = fold([OPENED, stored, stored])

    assert state.staged == (stored,)
    assert status_of(state) == "staging"
