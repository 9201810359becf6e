"""Staging over HTTP on the real service (real Kafka and PostgreSQL): CI uploads artifacts to
an opened candidate, a release manager seals it, the bundle downloaded from the service
verifies offline, and a digest mismatch stores nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from lts_events.actors import Actor, Role
from lts_events.contracts.release.backports import BackportReady, GateEvidence, backport_stream
from lts_events.contracts.release.candidates import (
    Bump,
    CandidateOpened,
    IncludedBackport,
    candidate_stream,
)
from lts_events.contracts.release.staging import ArtifactStored, CandidateSealed
from lts_events.contracts.triage import RolloutStrategy
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_events.store.port import NO_STREAM
from lts_events.store.postgres import PostgresEventStore
from lts_release.appending import Outcome, append
from lts_release.cli import app
from lts_release.main import SPEC
from lts_release.staging.keys import KeyAlgorithm, generate_pem, signer_from_pem
from lts_release.staging.manifest import BuildManifest
from typer.testing import CliRunner, Result

from .conftest import Running, eventually

pytestmark = pytest.mark.integration

CI = {"Authorization": "Bearer dev-automation"}
RM = {"Authorization": "Bearer dev-release_manager"}
QA = {"Authorization": "Bearer dev-qa"}
COMMIT = "c0ffee" + "0" * 34
WHEEL = "acme_server-9.9.1-py3-none-any.whl"


def a_wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr(
            "acme_server-9.9.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: acme-server\nVersion: 9.9.1\nRequires-Dist: attrs\n",
        )
    return buffer.getvalue()


@pytest.fixture
def stage_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set before the service starts (listed first where both are used)."""
    monkeypatch.setenv("LTS_RELEASE_STAGE_DATA_DIR", str(tmp_path / "release-data"))
    return tmp_path / "release-data"


@pytest.fixture
def service(stage_data_dir: Path, release_service: Running) -> Running:
    return release_service


async def open_candidate(service: Running, unique: str, ticket_id: int) -> str:
    line = f"9.{int(unique[:6], 16)}"
    candidate_id = f"{line}.1rc1"
    opened = CandidateOpened(
        candidate_id=candidate_id,
        line=line,
        version=f"{line}.1",
        rc=1,
        tag=f"v{line}.1rc1",
        final_tag=f"v{line}.1",
        previous_version=f"{line}.0",
        bump=Bump.PATCH,
        backports=(
            IncludedBackport(
                ticket_id=ticket_id,
                title="TLS record parser overflow",
                cve_ids=("CVE-2026-4242",),
                patch_branch=f"backport/{ticket_id}-v{line}",
                commit=COMMIT,
                rollout_strategy=RolloutStrategy.IMMEDIATE,
                emergency=False,
                fast_tracked=False,
            ),
        ),
        rollout_strategy=RolloutStrategy.IMMEDIATE,
        emergency=False,
        opened_by="rm",
        opened_at=datetime.now(UTC),
    )
    ready = BackportReady(
        ticket_id=ticket_id,
        line=line,
        patch_branch=f"backport/{ticket_id}-v{line}",
        commit=COMMIT,
        gates=(GateEvidence(gate="unit", status="passed", run_url="https://ci.example/runs/1"),),
        qa_signed_by="qa-bob",
        security_signed_by="sec-carol",
        fast_tracked=False,
        ready_at=datetime.now(UTC),
    )
    manager = Actor(id="rm", role=Role.RELEASE_MANAGER)
    await append(
        service.store, backport_stream(ticket_id, line), [Outcome(ready)], version=NO_STREAM
    )
    await append(
        service.store, candidate_stream(candidate_id), [Outcome(opened, manager)], version=NO_STREAM
    )
    return candidate_id


async def staged_events(service: Running, candidate_id: str) -> list[object]:
    history = await service.store.read_stream(candidate_stream(candidate_id))
    return [
        r.event for r in history.events if isinstance(r.event, ArtifactStored | CandidateSealed)
    ]


async def test_upload_seal_download_and_verify(
    service: Running, unique: str, ticket_id: int, tmp_path: Path
) -> None:
    candidate_id = await open_candidate(service, unique, ticket_id)
    client = service.client
    wheel = a_wheel()
    tarball = b"firmware " * 10_000

    raw = await client.post(
        f"/candidates/{candidate_id}/artifacts",
        params={"name": WHEEL, "sha256": hashlib.sha256(wheel).hexdigest()},
        content=wheel,
        headers=CI | {"Content-Type": "application/zip"},
    )
    multipart = await client.post(
        f"/candidates/{candidate_id}/artifacts",
        data={"sha256": hashlib.sha256(tarball).hexdigest()},
        files={"file": ("acme-firmware-9.9.1.tar", tarball, "application/x-tar")},
        headers=CI,
    )
    again = await client.post(
        f"/candidates/{candidate_id}/artifacts", params={"name": WHEEL}, content=wheel, headers=CI
    )
    stale = await client.post(f"/candidates/{candidate_id}/seal", headers=RM | {"If-Match": '"1"'})
    tag = (await client.get(f"/candidates/{candidate_id}", headers=RM)).headers["ETag"]
    sealed = await client.post(f"/candidates/{candidate_id}/seal", headers=RM | {"If-Match": tag})
    resealed = await client.post(f"/candidates/{candidate_id}/seal", headers=RM)
    late = await client.post(
        f"/candidates/{candidate_id}/artifacts",
        params={"name": "late.bin"},
        content=b"x",
        headers=CI,
    )

    assert (raw.status_code, multipart.status_code, again.status_code) == (201, 201, 200), raw.text
    assert raw.json()["sha256"] == hashlib.sha256(wheel).hexdigest()
    assert (stale.status_code, stale.headers["ETag"]) == (412, tag)
    assert stale.headers["content-type"] == "application/problem+json"
    assert sealed.status_code == 201, sealed.text
    assert resealed.status_code == 200
    assert resealed.json() == sealed.json()
    assert late.status_code == 409
    bundle_url = sealed.json()["bundle"]["url"]
    bundle = await client.get(bundle_url, headers=QA)
    assert bundle.status_code == 200
    assert hashlib.sha256(bundle.content).hexdigest() == sealed.json()["bundle"]["sha256"]
    (tmp_path / "bundle.tar.gz").write_bytes(bundle.content)
    verified = CliRunner().invoke(app, ["verify", str(tmp_path / "bundle.tar.gz")])
    assert verified.exit_code == 0, verified.output
    with tarfile.open(tmp_path / "bundle.tar.gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/manifest.json"))
        extracted = tar.extractfile(member)
        assert extracted is not None
        manifest = BuildManifest.from_json(extracted.read())
    assert manifest.backports[0].source_commit == COMMIT
    assert manifest.backports[0].gate_evidence["gates"][0]["run_url"] == "https://ci.example/runs/1"
    assert manifest.cves == ("CVE-2026-4242",)
    events = await staged_events(service, candidate_id)
    assert [type(e).__name__ for e in events] == [
        "ArtifactStored",
        "ArtifactStored",
        "CandidateSealed",
    ]


async def test_a_digest_mismatch_is_refused_and_nothing_is_stored(
    service: Running, unique: str, ticket_id: int, stage_data_dir: Path
) -> None:
    candidate_id = await open_candidate(service, unique, ticket_id)
    blobs = stage_data_dir / "blobs"
    before = sorted(p for p in blobs.rglob("*") if p.is_file())

    refused = await service.client.post(
        f"/candidates/{candidate_id}/artifacts",
        params={"name": WHEEL, "sha256": hashlib.sha256(b"other").hexdigest()},
        content=a_wheel(),
        headers=CI,
    )

    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["field"] == "sha256"
    assert sorted(p for p in blobs.rglob("*") if p.is_file()) == before
    assert await staged_events(service, candidate_id) == []


async def test_an_upload_with_a_stale_if_match_is_412_and_stores_nothing(
    service: Running, unique: str, ticket_id: int, stage_data_dir: Path
) -> None:
    candidate_id = await open_candidate(service, unique, ticket_id)
    client = service.client
    tag = (await client.get(f"/candidates/{candidate_id}", headers=RM)).headers["ETag"]
    blobs = stage_data_dir / "blobs"
    before = sorted(p for p in blobs.rglob("*") if p.is_file())

    async def upload(if_match: str) -> httpx.Response:
        return await client.post(
            f"/candidates/{candidate_id}/artifacts",
            params={"name": WHEEL},
            content=a_wheel(),
            headers=CI | {"If-Match": if_match},
        )

    stale = await upload(f'"{int(tag.strip(chr(34))) + 1}"')
    stored_after_stale = sorted(p for p in blobs.rglob("*") if p.is_file())
    events_after_stale = await staged_events(service, candidate_id)
    fresh = await upload(tag)

    assert (stale.status_code, stale.headers.get("ETag"), stale.json().get("etag")) == (
        412,
        tag,
        tag,
    )
    assert stale.headers["content-type"] == "application/problem+json"
    assert stored_after_stale == before
    assert events_after_stale == []
    assert fresh.status_code == 201, fresh.text
    assert [type(e).__name__ for e in await staged_events(service, candidate_id)] == [
        "ArtifactStored"
    ]


async def test_roles_and_unknown_candidates_are_refused(service: Running) -> None:
    client = service.client

    as_qa = await client.post(
        "/candidates/0.0.1rc1/artifacts", params={"name": "a.bin"}, content=b"a", headers=QA
    )
    no_token = await client.post("/candidates/0.0.1rc1/seal")
    unknown = await client.post(
        "/candidates/0.0.1rc1/artifacts", params={"name": "a.bin"}, content=b"a", headers=CI
    )
    ci_seals = await client.post("/candidates/0.0.1rc1/seal", headers=CI)

    assert (as_qa.status_code, no_token.status_code) == (403, 401)
    assert (unknown.status_code, ci_seals.status_code) == (404, 403)


@pytest.fixture
async def served(
    stage_data_dir: Path,
    kafka: str,
    database_url: str,
    unique: str,
    drop_schemas: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Running, str]]:
    """The real service behind a real HTTP server on a free port, for the CLI's own client."""
    name = f"release_{unique}"
    monkeypatch.setenv("LTS_RELEASE_TRIAGE_TOPIC", f"lts.triage_{unique}.events")
    drop_schemas.append(name)
    settings = RuntimeSettings(kafka_bootstrap_servers=kafka, database_url=database_url)
    app_ = build_app(dataclasses.replace(SPEC, name=name), settings)
    server = uvicorn.Server(uvicorn.Config(app_, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _started(server), within=60)
    port = server.servers[0].sockets[0].getsockname()[1]
    store = await PostgresEventStore.connect(database_url, schema=name, migrate=False)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield Running(name, client, store, ""), f"http://127.0.0.1:{port}"
    finally:
        await store.close()
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool | None:
    return True if server.started else None


async def test_the_cli_uploads_seals_and_verifies_by_url(
    served: tuple[Running, str], unique: str, ticket_id: int, tmp_path: Path
) -> None:
    service, url = served
    candidate_id = await open_candidate(service, unique, ticket_id)
    wheel = a_wheel()
    (tmp_path / WHEEL).write_bytes(wheel)
    (tmp_path / "bom.json").write_text('{"bomFormat":"CycloneDX","specVersion":"1.6"}')
    runner = CliRunner()
    common = ["--url", url, "--token", "dev-automation"]

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    uploaded = await asyncio.to_thread(run, "upload", candidate_id, str(tmp_path / WHEEL), *common)
    sbom = await asyncio.to_thread(
        run, "upload", candidate_id, str(tmp_path / "bom.json"), "--sbom-for", WHEEL, *common
    )
    as_ci = await asyncio.to_thread(run, "seal", candidate_id, *common)
    sealed = await asyncio.to_thread(
        run, "seal", candidate_id, "--url", url, "--token", "dev-release_manager"
    )
    bundle = (
        f"{url}/candidates/{candidate_id}/files/release-{candidate_id.removesuffix('rc1')}.tar.gz"
    )
    verified = await asyncio.to_thread(run, "verify", bundle, "--token", "dev-qa")

    assert uploaded.exit_code == 0, uploaded.output
    assert f"{WHEEL}  sha256:{hashlib.sha256(wheel).hexdigest()}  stored" in uploaded.output
    assert sbom.exit_code == 0, sbom.output
    assert as_ci.exit_code == 1
    assert "403" in as_ci.output
    assert sealed.exit_code == 0, sealed.output
    assert verified.exit_code == 0, verified.output
    assert "OK release" in verified.output


@pytest.fixture
def configured_key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A configured signing key (set before the service starts: listed first)."""
    pem = generate_pem(KeyAlgorithm.ED25519)
    monkeypatch.setenv("LTS_RELEASE_STAGE_SIGNING_KEY", pem.decode())
    return pem


async def test_the_configured_key_signs_and_never_leaves_the_service(
    configured_key: bytes,
    service: Running,
    unique: str,
    ticket_id: int,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    candidate_id = await open_candidate(service, unique, ticket_id)
    secret = b"".join(configured_key.splitlines()[1:-1]).decode()  # the base64 body of the PEM
    client = service.client
    await client.post(
        f"/candidates/{candidate_id}/artifacts",
        params={"name": WHEEL},
        content=a_wheel(),
        headers=CI,
    )

    sealed = await client.post(f"/candidates/{candidate_id}/seal", headers=RM)
    listing = await client.get(f"/candidates/{candidate_id}/files", headers=QA)
    answers = [sealed.text, listing.text]
    for file in sealed.json()["files"]:
        answers.append((await client.get(file["url"], headers=QA)).content.decode("latin-1"))
    history = await service.store.read_stream(candidate_stream(candidate_id))
    stored = [json.dumps(recorded.event.to_data()) for recorded in history.events]
    logs = caplog.text + "".join(capfd.readouterr())

    expected = signer_from_pem(configured_key).fingerprint
    assert sealed.json()["public_key_fingerprint"] == expected
    assert sealed.json()["signing_algorithm"] == "ed25519"
    for text in [*answers, *stored, logs]:
        assert secret not in text
        assert "PRIVATE KEY" not in text


async def test_concurrent_uploads_to_one_candidate_are_all_recorded(
    service: Running, unique: str, ticket_id: int
) -> None:
    candidate_id = await open_candidate(service, unique, ticket_id)
    files = {f"part-{n}.bin": f"part {n} ".encode() * 5000 for n in range(6)}

    answers = await asyncio.gather(
        *(
            service.client.post(
                f"/candidates/{candidate_id}/artifacts",
                params={"name": name, "sha256": hashlib.sha256(content).hexdigest()},
                content=content,
                headers=CI,
            )
            for name, content in files.items()
        )
    )

    assert [answer.status_code for answer in answers] == [201] * len(files)
    stored = await staged_events(service, candidate_id)
    assert sorted(e.name for e in stored if isinstance(e, ArtifactStored)) == sorted(files)
