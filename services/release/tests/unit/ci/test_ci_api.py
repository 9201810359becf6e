"""The CI routes on the in-memory store: signatures and tokens (401), roles (403), malformed
input (422 problem naming the field), uploads recorded once."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from lts_events.auth import Authenticator
from lts_events.clock import FrozenClock
from lts_events.contracts.release.ci import CiResultRecorded, ci_stream
from lts_events.problems import install_problem_answers
from lts_events.store.memory import InMemoryEventStore
from lts_release.ci.gates import GateMap
from lts_release.ci.recorder import CiRecorder
from lts_release.ci_api import build_ci_router
from lts_release.config import Settings

from .fixtures import raw

SECRET = b"dev-release-github-webhook-secret"
GITLAB_TOKEN = "dev-release-gitlab-webhook-token"
SHA = "bcbb5ec396a2c0f828686f14fac9b80b780504f2"
QA = {"Authorization": "Bearer dev-qa"}
TARGET = {"branch": "release-lts/v1.4", "commit": SHA, "suite": "unit"}


@dataclass
class Api:
    client: httpx.AsyncClient
    store: InMemoryEventStore

    async def recorded(self, branch: str) -> list[CiResultRecorded]:
        history = await self.store.read_stream(ci_stream(branch))
        return [r.event for r in history.events if isinstance(r.event, CiResultRecorded)]


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    monkeypatch.setenv("LTS_ENVIRONMENT", "local")
    monkeypatch.delenv("LTS_AUTH_TOKENS", raising=False)
    monkeypatch.setenv("LTS_RELEASE_CI_MAX_REPORT_BYTES", "65536")
    settings = Settings()
    store = InMemoryEventStore()
    recorder = CiRecorder(
        store,
        gates=GateMap.of(settings.ci_gate_patterns),
        policy=settings.ci_report_policy(),
        clock=FrozenClock(datetime(2026, 12, 4, tzinfo=UTC)),
    )
    app = FastAPI()
    install_problem_answers(app)  # as the host does
    app.include_router(
        build_ci_router(recorder, authenticator=Authenticator.from_settings(), settings=settings)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://release") as client:
        yield Api(client, store)


def github_headers(
    body: bytes, *, event: str = "workflow_run", secret: bytes = SECRET
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
    }


async def test_a_wrong_or_missing_github_signature_is_401_and_records_nothing(api: Api) -> None:
    body = raw("github-workflow_run-completed.payload.json")
    unsigned = {k: v for k, v in github_headers(body).items() if k != "X-Hub-Signature-256"}

    wrong = await api.client.post(
        "/webhooks/github", content=body, headers=github_headers(body, secret=b"guess")
    )
    missing = await api.client.post("/webhooks/github", content=body, headers=unsigned)

    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["detail"] == "missing or wrong X-Hub-Signature-256"
    assert await api.recorded("master") == []


async def test_a_signed_workflow_run_is_recorded_and_a_redelivery_is_not(api: Api) -> None:
    body = raw("github-workflow_run-completed.payload.json")

    first = await api.client.post("/webhooks/github", content=body, headers=github_headers(body))
    again = await api.client.post("/webhooks/github", content=body, headers=github_headers(body))

    assert first.status_code == 201
    assert first.json()["results"][0] == {
        "delivery_id": "github:72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "branch": "master",
        "commit": "3484a3fb816e0859fd6e1cea078d76385ff50625",
        "job": "test",
        "gate": "unit",  # "test" is one of the default unit patterns
        "status": "passed",
        "recorded": True,
    }
    assert (again.status_code, again.json()["results"][0]["recorded"]) == (200, False)
    assert len(await api.recorded("master")) == 1


async def test_a_ping_is_answered_with_why_nothing_is_recorded(api: Api) -> None:
    body = b'{"zen": "Design for failure."}'

    answer = await api.client.post(
        "/webhooks/github", content=body, headers=github_headers(body, event="ping")
    )

    assert answer.status_code == 200
    assert "not CI results" in answer.json()["ignored"]


async def test_a_malformed_webhook_is_422_naming_the_field(api: Api) -> None:
    payload = json.loads(raw("github-check_run-completed.payload.json"))
    payload["check_run"]["head_sha"] = "nope"
    body = json.dumps(payload).encode()

    answer = await api.client.post(
        "/webhooks/github", content=body, headers=github_headers(body, event="check_run")
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == "body.check_run.head_sha"


async def test_a_gitlab_hook_needs_its_token_and_records_each_job(api: Api) -> None:
    body = raw("gitlab-pipeline-hook.json")
    hook = {"X-Gitlab-Event": "Pipeline Hook"}

    refused = await api.client.post(
        "/webhooks/gitlab", content=body, headers={**hook, "X-Gitlab-Token": "guess"}
    )
    first = await api.client.post(
        "/webhooks/gitlab", content=body, headers={**hook, "X-Gitlab-Token": GITLAB_TOKEN}
    )
    again = await api.client.post(
        "/webhooks/gitlab", content=body, headers={**hook, "X-Gitlab-Token": GITLAB_TOKEN}
    )

    assert refused.status_code == 401
    assert first.status_code == 201
    assert [r["job"] for r in first.json()["results"]][1:] == [
        "production",
        "test-image",
        "test-build",
        "build-image",
        "staging",
    ]
    assert again.status_code == 200
    assert len(await api.recorded("master")) == 6


async def test_a_junit_upload_is_recorded_once_with_its_counts(api: Api) -> None:
    body = raw("junit-surefire-email.xml")

    first = await api.client.post("/ci/junit", params=TARGET, content=body, headers=QA)
    again = await api.client.post("/ci/junit", params=TARGET, content=body, headers=QA)

    assert (first.status_code, again.status_code) == (201, 200)
    (result,) = await api.recorded("release-lts/v1.4")
    assert (result.gate, result.status) == ("unit", "failed")
    assert result.evidence.tests is not None
    assert (result.evidence.tests.failed, result.evidence.tests.errors) == (2, 5)


async def test_a_report_may_come_as_the_file_of_a_form(api: Api) -> None:
    files = {"file": ("pip-audit.json", raw("pip-audit-many-vulns.json"), "application/json")}
    params = {**TARGET, "suite": "pip-audit"}

    answer = await api.client.post("/ci/dependency-scan", params=params, files=files, headers=QA)

    assert answer.status_code == 201
    (result,) = await api.recorded("release-lts/v1.4")
    assert (result.gate, result.status, len(result.evidence.vulnerabilities)) == (
        "dependency_scan",
        "failed",
        7,
    )


async def test_a_malformed_report_is_422_naming_the_field(api: Api) -> None:
    sarif = json.loads(raw("sarif-semgrep.json"))
    sarif["runs"][0]["results"][0]["level"] = "critical"

    truncated = await api.client.post(
        "/ci/junit", params=TARGET, content=raw("junit-pytest-corrupt.xml"), headers=QA
    )
    bad_level = await api.client.post(
        "/ci/sarif", params={**TARGET, "suite": "sast"}, json=sarif, headers=QA
    )
    bad_commit = await api.client.post(
        "/ci/junit", params={**TARGET, "commit": "HEAD~1~1"}, content=b"<x/>", headers=QA
    )
    no_branch = await api.client.post(
        "/ci/junit", params={"commit": SHA, "suite": "unit"}, content=b"<x/>", headers=QA
    )

    assert [a.status_code for a in (truncated, bad_level, bad_commit, no_branch)] == [422] * 4
    assert truncated.json()["field"] == "body"
    assert "line 11" in truncated.json()["detail"]
    assert bad_level.json()["field"] == "body.runs.0.results.0.level"
    assert bad_commit.json()["field"] == "query.commit"
    assert no_branch.json()["field"] == "query.branch"
    assert await api.recorded("release-lts/v1.4") == []


async def test_uploads_need_a_ci_or_review_role(api: Api) -> None:
    body = raw("junit-surefire-allok.xml")

    anonymous = await api.client.post("/ci/junit", params=TARGET, content=body)
    maintainer = await api.client.post(
        "/ci/junit", params=TARGET, content=body, headers={"Authorization": "Bearer dev-maintainer"}
    )

    assert (anonymous.status_code, maintainer.status_code) == (401, 403)
    assert maintainer.headers["content-type"] == "application/problem+json"


async def test_a_report_above_the_limit_is_413_before_parsing(api: Api) -> None:
    answer = await api.client.post(
        "/ci/junit", params=TARGET, content=b"<testsuite>" + b" " * 70_000, headers=QA
    )

    assert answer.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xff\xfe",
        b'<?xml version="1.0" encoding="utf-16"?><testsuite/>',
        b"<testsuites><testsuite><testcase><failure>\xc3\x28</failure></testcase>"
        b"</testsuite></testsuites>",
        b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},'
        b' "results": [{"message": {}}]}]}',
        b'{"dependencies": [{"name": "a\\u0000b", "version": "1", "vulns": [{"id": "\\ud800"}]}]}',
        b"[]",
        b"null",
    ],
)
async def test_no_body_makes_a_route_fail_with_a_server_error(api: Api, body: bytes) -> None:
    github = {**github_headers(body, event="check_run"), "Content-Type": "application/json"}
    answers = [
        await api.client.post("/webhooks/github", content=body, headers=github),
        await api.client.post(
            "/webhooks/gitlab", content=body, headers={"X-Gitlab-Token": GITLAB_TOKEN}
        ),
        *[
            await api.client.post(path, params=TARGET, content=body, headers=QA)
            for path in ("/ci/junit", "/ci/sarif", "/ci/dependency-scan")
        ],
        await api.client.post(
            "/ci/junit",
            params=TARGET,
            content=b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\n" + body,
            headers={**QA, "Content-Type": "multipart/form-data; boundary=x"},
        ),
    ]

    assert [a.status_code for a in answers if a.status_code >= 500] == []
