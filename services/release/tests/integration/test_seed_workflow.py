"""The seed's example workflow past approval, across the real triage and release services (their
`SPEC`s in the shared host, real Kafka, PostgreSQL, the local pypiserver and `lts release
verify`), driven only through their inputs: a ticket on the intake topic; triage and approvals
over triage's HTTP API; CI results as CI sends them (a signed GitHub check_run webhook, JUnit,
SARIF and pip-audit uploads) on both patch branches; QA and security sign-offs; candidates for
v1.4 and v1.3; artifacts uploaded and sealed; the bundle verifies offline and stops verifying
after one byte of an artifact changes; published to the package index, where `pip download`
finds it; the canary starts; a critical health alert for the new version rolls it back to the
line's safe version automatically."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from lts_devtools.infra.local_pypi import PackageIndex
from lts_events.actors import Role
from lts_events.contracts.common import TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketOpened
from lts_events.envelope import Envelope
from lts_events.relay import envelope_record
from lts_events.service import build_app
from lts_events.settings import RuntimeSettings
from lts_release.channels.package_index import simple_url_for
from lts_release.cli import app as release_cli
from lts_triage.main import SPEC as TRIAGE
from typer.testing import CliRunner

from ..publication.conftest import build_sdist, build_wheel
from ..publication.test_publish_route import pip_download
from .conftest import Running, eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GITHUB_SECRET = b"dev-release-github-webhook-secret"  # the local default of the setting
LINES = {"1.4": ("1.4.2", "1.4.3"), "1.3": ("1.3.7", "1.3.8")}  # line: (last released, next)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclasses.dataclass
class Seed:
    """Both services, the topics they read, and where the release service keeps its files."""

    triage: httpx.AsyncClient
    release: Running
    intake_topic: str
    health_topic: str
    index: PackageIndex
    project: str
    workdir: Path


@pytest.fixture
def seed_env(
    unique: str,
    tmp_path: Path,
    package_index: PackageIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Set before either service starts (requested before `release_service`)."""
    env = {
        "LTS_TRIAGE_INTAKE_TOPIC": f"lts.intake_{unique}.events",
        "LTS_RELEASE_ROLLOUT_HEALTH_TOPIC": f"lts.inbound.health_{unique}",
        "LTS_RELEASE_PYPI_URL": package_index.url,
        "LTS_RELEASE_PYPI_USERNAME": package_index.username or "",
        "LTS_RELEASE_PYPI_PASSWORD": package_index.password or "",
        "LTS_RELEASE_PUB_PAGE_DIR": str(tmp_path / "pages"),
        "LTS_RELEASE_STAGE_DATA_DIR": str(tmp_path / "stage"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
async def seed(
    seed_env: dict[str, str],
    release_service: Running,
    kafka: str,
    database_url: str,
    unique: str,
    drop_schemas: list[str],
    package_index: PackageIndex,
    tmp_path: Path,
) -> AsyncIterator[Seed]:
    """Triage under the name whose topic the release service reads (`lts.triage_<unique>`)."""
    name = f"triage_{unique}"
    drop_schemas.append(name)
    settings = RuntimeSettings(
        kafka_bootstrap_servers=kafka, database_url=database_url, timer_interval=0.2
    )
    triage_app = build_app(dataclasses.replace(TRIAGE, name=name), settings)
    assert release_service.triage_topic == f"lts.{name}.events"
    async with LifespanManager(triage_app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://triage") as triage:
            yield Seed(
                triage,
                release_service,
                seed_env["LTS_TRIAGE_INTAKE_TOPIC"],
                seed_env["LTS_RELEASE_ROLLOUT_HEALTH_TOPIC"],
                package_index,
                f"lts-seed-{unique}",
                tmp_path,
            )


async def send(kafka: str, topic: str, value: bytes, key: bytes, headers: Any = ()) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()


# ---------------------------------------------------------------- intake and triage


async def open_ticket(seed: Seed, kafka: str, ticket_id: int, affected: list[str]) -> None:
    now = datetime.now(UTC)
    ticket = TicketOpened(
        ticket_id=ticket_id,
        title="Session fixation in login",
        source=TicketSource.REPORT,
        kind=TicketKind.SECURITY,
        affected_versions=affected,
        cve_ids=[f"CVE-2026-{ticket_id % 100000:05d}"],
        opened_at=now,
    )
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="lts-flow/intake",
        type=ticket.type,
        subject=ticket_stream(ticket_id),
        time=now,
        data=ticket.to_data(),
        actorid="lts-intake",
        actorrole=Role.AUTOMATION,
        streamversion=1,
    )
    _, value, headers = envelope_record(envelope)
    await send(kafka, seed.intake_topic, value, ticket_stream(ticket_id).encode(), headers)


async def triage_and_approve(seed: Seed, ticket_id: int, affected: list[str]) -> dict[str, Any]:
    """The seed's triage engineer marks it high on the affected lines; every approver signs."""

    async def received() -> bool | None:
        answer = await seed.triage.get(f"/tickets/{ticket_id}/triage", headers=bearer("dev-qa"))
        return True if answer.status_code == 200 else None

    await eventually(received)
    checklist = {
        "severity": "high",
        "reproduced": True,
        "affected_versions": affected,
        "public_exploit": False,
        "workaround": False,
        "api_change": False,
        "effort": "S",
        "security": True,
    }
    triaged = await seed.triage.post(
        f"/tickets/{ticket_id}/triage", json=checklist, headers=bearer("dev-triage_engineer")
    )
    assert triaged.status_code == 200, triaged.text
    plan = triaged.json()["plan"]
    signers = {
        "code_reviewer": "dev-maintainer-alice",
        "qa": "dev-qa",
        "release_manager": "dev-release_manager",
        "security_reviewer": "dev-security_reviewer",
    }
    for role in plan["required_approvers"]:
        signed = await seed.triage.post(
            f"/tickets/{ticket_id}/approvals",
            json={"role": role, "comment": "ok", "revision": plan["revision"]},
            headers=bearer(signers[role]),
        )
        assert signed.status_code == 201, signed.text
    view = await seed.triage.get(f"/tickets/{ticket_id}/triage", headers=bearer("dev-qa"))
    assert view.json()["status"] == "approved", view.text
    result: dict[str, Any] = plan
    return result


# ---------------------------------------------------------------- CI, as CI systems send it


def check_run(branch: str, commit: str, name: str) -> bytes:
    payload: dict[str, Any] = json.loads(
        (FIXTURES / "ci" / "github-check_run-completed.payload.json").read_text()
    )
    payload["check_run"].update(name=name, head_sha=commit)
    payload["check_run"]["check_suite"].update(head_branch=branch, head_sha=commit)
    return json.dumps(payload).encode()


async def ci_green(seed: Seed, branch: str, commit: str) -> None:
    client = seed.release.client
    body = check_run(branch, commit, "lint")
    signature = "sha256=" + hmac.new(GITHUB_SECRET, body, hashlib.sha256).hexdigest()
    webhook = await client.post(
        "/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": "check_run",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        },
    )
    assert webhook.status_code == 201, webhook.text
    junit = (FIXTURES / "ci" / "junit-surefire-allok.xml").read_bytes()
    uploads = [
        ("/ci/junit", suite, junit)
        for suite in ("unit", "integration", "backport-regression", "security-regression")
    ]
    uploads += [
        ("/ci/sarif", "bandit", (FIXTURES / "ci" / "sarif-bandit.json").read_bytes()),
        (
            "/ci/dependency-scan",
            "pip-audit",
            (FIXTURES / "ci" / "pip-audit-zero-vulns.json").read_bytes(),
        ),
    ]
    for path, suite, report in uploads:
        run_url = f"https://ci.example/{branch}/{commit[:7]}/{suite}"
        answer = await client.post(
            path,
            params={"branch": branch, "commit": commit, "suite": suite, "run_url": run_url},
            content=report,
            headers=bearer("dev-automation"),
        )
        assert answer.status_code == 201, f"{path} {suite}: {answer.text}"


async def backport(seed: Seed, ticket_id: int, line: str, until: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await seed.release.client.get(
            f"/backports/{ticket_id}/{line}", headers=bearer("dev-qa")
        )
        view: dict[str, Any] = answer.json()
        return view if answer.status_code == 200 and until(view) else None

    return await eventually(probe)


async def sign_off(seed: Seed, ticket_id: int, line: str, commit: str) -> None:
    for kind, token in (("qa", "dev-qa"), ("security", "dev-security_reviewer")):
        answer = await seed.release.client.post(
            f"/backports/{ticket_id}/{line}/sign-offs",
            json={"kind": kind, "commit": commit, "comment": "verified on the patch branch"},
            headers=bearer(token),
        )
        assert answer.status_code == 201, answer.text


# ---------------------------------------------------------------- staging and publication


async def stage_and_seal(seed: Seed, candidate_id: str, version: str) -> dict[str, Any]:
    directory = seed.workdir / "dist" / version
    directory.mkdir(parents=True)
    files = [
        build_wheel(directory, seed.project, version),
        build_sdist(directory, seed.project, version),
    ]
    for path in files:
        data = path.read_bytes()
        uploaded = await seed.release.client.post(
            f"/candidates/{candidate_id}/artifacts",
            params={"name": path.name, "sha256": hashlib.sha256(data).hexdigest()},
            content=data,
            headers={**bearer("dev-automation"), "Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
    sealed = await seed.release.client.post(
        f"/candidates/{candidate_id}/seal", headers=bearer("dev-release_manager")
    )
    assert sealed.status_code == 201, sealed.text
    result: dict[str, Any] = sealed.json()
    return result


def verify(bundle: Path) -> Any:
    return CliRunner().invoke(release_cli, ["verify", str(bundle)])


def with_one_byte_changed(bundle: Path, into: Path) -> Path:
    """The bundle again, with one byte of its wheel flipped."""
    with tarfile.open(bundle) as source, tarfile.open(into, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            content = data.read() if data else b""
            if member.name.endswith(".whl"):
                content = bytes([content[0] ^ 0x01]) + content[1:]
            target.addfile(member, __import__("io").BytesIO(content) if data else None)
    return into


async def health_alert(seed: Seed, kafka: str, version: str) -> None:
    text = (FIXTURES / "alertmanager_rollout_critical.json").read_text()
    cloudevent = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "//alertmanager.monitoring",
        "type": "org.prometheus.alertmanager.notification",
        "datacontenttype": "application/json",
        "data": json.loads(text.replace("VERSION", version)),
    }
    await send(
        kafka,
        seed.health_topic,
        json.dumps(cloudevent).encode(),
        cloudevent["id"].encode(),
        [("content-type", b"application/cloudevents+json")],
    )


# ---------------------------------------------------------------- the workflow


async def ready_on_lines(seed: Seed, kafka: str, ticket_id: int, affected: list[str]) -> None:
    """A ticket opened, triaged and approved; CI green on each patch branch; QA and security
    sign the head commits: its backports are ready."""
    await open_ticket(seed, kafka, ticket_id, affected)
    plan = await triage_and_approve(seed, ticket_id, affected)
    lines = [branch.removeprefix("release-lts/v") for branch in plan["target_branches"]]
    heads = {line: hashlib.sha1(f"{ticket_id}-{line}".encode()).hexdigest() for line in lines}
    for line, head in heads.items():
        await backport(seed, ticket_id, line, until=lambda v: v["status"] == "open")
        await ci_green(seed, f"lts/v{line}/issue-{ticket_id}", head)
    for line, head in heads.items():
        green = await backport(
            seed, ticket_id, line, until=lambda v: all(g["status"] == "passed" for g in v["gates"])
        )
        assert green["head_commit"] == head
        assert {g["gate"] for g in green["gates"]} >= {"lint", "unit", "security_scan"}
        security = next(g for g in green["gates"] if g["gate"] == "security_scan")
        assert security["evidence"]["findings"][0]["rule_id"] == "B101"  # a note: below the bar
        await sign_off(seed, ticket_id, line, head)
        ready = await backport(seed, ticket_id, line, until=lambda v: v["status"] == "ready")
        assert ready["missing"] == []
        await eventually(lambda line=line: _ready_on_line(seed.release.client, line, ticket_id))


async def open_candidate(seed: Seed, line: str) -> dict[str, Any]:
    opened = await seed.release.client.post(
        f"/lines/{line}/candidates", headers=bearer("dev-release_manager")
    )
    assert opened.status_code == 201, opened.text
    candidate: dict[str, Any] = opened.json()
    return candidate


async def publish(seed: Seed, candidate: dict[str, Any]) -> None:
    """Published to the package index: `pip download` gets the sealed wheel."""
    published = await seed.release.client.post(
        f"/candidates/{candidate['candidate_id']}/publish", headers=bearer("dev-release_manager")
    )
    assert published.status_code == 201, published.text
    wheel = next(a for a in published.json()["artifacts"] if a["name"].endswith(".whl"))
    downloaded = pip_download(
        simple_url_for(seed.index.url),
        f"{seed.project}=={candidate['version']}",
        seed.workdir / "pip" / candidate["version"],
    )
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == wheel["sha256"]


async def rollout(seed: Seed, version: str, until: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await seed.release.client.get(f"/rollouts/{version}", headers=bearer("dev-sre"))
        view: dict[str, Any] = answer.json()
        return view if answer.status_code == 200 and until(view) else None

    return await eventually(probe)


async def test_the_seed_workflow_from_approval_to_automatic_rollback(
    seed: Seed, kafka: str, ticket_id: int
) -> None:
    client = seed.release.client

    # the seed's ticket, high, on v1.4 and v1.3: CI green on both branches, sign-offs, ready
    await ready_on_lines(seed, kafka, ticket_id, ["1.4.2", "1.3.7"])

    # candidates for v1.4 and v1.3, patch-only from the lines' last releases
    candidates = {line: await open_candidate(seed, line) for line in ("1.4", "1.3")}
    for line, (previous, version) in LINES.items():
        candidate = candidates[line]
        assert (candidate["version"], candidate["previous_version"]) == (version, previous)
        assert candidate["tag"] == f"v{version}rc1"
        assert [b["ticket_id"] for b in candidate["backports"]] == [ticket_id]

    # both staged, sealed and signed; the v1.4 bundle verifies offline, and not after one byte
    # of an artifact changed
    sealed = {
        line: await stage_and_seal(seed, c["candidate_id"], c["version"])
        for line, c in candidates.items()
    }
    bundle = await client.get(sealed["1.4"]["bundle"]["url"], headers=bearer("dev-qa"))
    assert bundle.status_code == 200
    path = seed.workdir / "bundle.tar.gz"
    path.write_bytes(bundle.content)
    passed = verify(path)
    assert passed.exit_code == 0, passed.output
    failed = verify(with_one_byte_changed(path, seed.workdir / "tampered.tar.gz"))
    assert failed.exit_code != 0
    assert ".whl" in failed.output

    # published to the package index (pip downloads it); the backports are released
    for candidate in candidates.values():
        await publish(seed, candidate)
    released = await backport(seed, ticket_id, "1.4", until=lambda v: v["status"] == "released")
    assert released["released_in"] == "1.4.3"
    lines = {x["line"]: x for x in (await client.get("/lines", headers=bearer("dev-qa"))).json()}
    assert (lines["1.4"]["latest_version"], lines["1.3"]["latest_version"]) == ("1.4.3", "1.3.8")

    # a regression fix on v1.4 goes the same way to 1.4.4, whose canary a critical health
    # alert rolls back, automatically, to the safe 1.4.3
    follow_up = ticket_id + 1
    await ready_on_lines(seed, kafka, follow_up, ["1.4.3"])
    fix = await open_candidate(seed, "1.4")
    assert (fix["version"], fix["previous_version"]) == ("1.4.4", "1.4.3")
    await stage_and_seal(seed, fix["candidate_id"], fix["version"])
    await publish(seed, fix)
    started = await rollout(seed, "1.4.4", until=lambda v: True)
    assert started["status"] not in ("rolled_back", "completed")
    await health_alert(seed, kafka, "1.4.4")
    rolled_back = await rollout(
        seed, "1.4.4", until=lambda v: (v.get("rollback") or {}).get("completed_at")
    )
    assert rolled_back["status"] == "rolled_back"
    assert rolled_back["rollback"]["trigger"] == "automatic"
    assert (rolled_back["rollback"]["from_version"], rolled_back["rollback"]["to_version"]) == (
        "1.4.4",
        "1.4.3",
    )
    lines = {x["line"]: x for x in (await client.get("/lines", headers=bearer("dev-qa"))).json()}
    assert lines["1.4"]["safe_version"] == "1.4.3"


async def _ready_on_line(client: httpx.AsyncClient, line: str, ticket_id: int) -> bool | None:
    summary = (await client.get(f"/lines/{line}", headers=bearer("dev-qa"))).json()
    return True if ticket_id in summary["ready_backports"] else None
