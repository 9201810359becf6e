"""HTTP routes of CI results: GitHub and GitLab webhooks (verified by HMAC signature and token:
a bad one is 401 before the body is read), and report uploads per branch, commit and suite
(bearer token of CI or a person). Malformed input is a 422 problem naming the field; every
result is recorded once (`CiRecorder`), so a redelivery answers 200 and records nothing.

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)"""

import hmac
import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from lts_events.actors import Actor, Role
from lts_events.auth import Authenticator, Principal, require_role
from lts_events.contracts.release.ci import CiStatus, Gate
from lts_events.envelope import Metadata
from lts_events.problems import LimitedBodyRoute, Problem
from lts_events.telemetry import current_traceparent
from pydantic import BaseModel, ConfigDict, SecretStr
from starlette.datastructures import UploadFile

from lts_release.ci import github, gitlab, reports
from lts_release.ci.errors import BadInput
from lts_release.ci.observation import Observation
from lts_release.ci.recorder import CiRecorder, Recorded
from lts_release.ci.reports import ReportKind, Upload
from lts_release.config import Settings

UPLOAD_ROLES = (Role.AUTOMATION, Role.QA, Role.SECURITY_REVIEWER, Role.RELEASE_MANAGER)


class RecordedResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    delivery_id: str
    branch: str
    commit: str
    job: str
    gate: Gate | None
    status: CiStatus
    recorded: bool


class Recording(BaseModel):
    """What was recorded (`recorded` false: it had been already), or why nothing was."""

    model_config = ConfigDict(frozen=True)

    results: list[RecordedResult]
    ignored: str | None = None


def build_ci_router(
    recorder: CiRecorder, *, authenticator: Authenticator, settings: Settings
) -> APIRouter:
    router = APIRouter(route_class=LimitedBodyRoute.of(settings.ci_max_report_bytes))
    may_upload = require_role(*UPLOAD_ROLES)

    def uploader(principal: Annotated[Principal, Depends(authenticator)]) -> Principal:
        return may_upload(principal)  # 401 without a token, 403 without an upload role

    Uploader = Annotated[Principal, Depends(uploader)]

    async def record(
        observations: Sequence[Observation], delivery: str, actor: Actor, response: Response
    ) -> Recording:
        metadata = Metadata(actor=actor, reason="CI result", traceparent=current_traceparent())
        done = await recorder.record(observations, delivery=delivery, metadata=metadata)
        response.status_code = 201 if any(not r.duplicate for r in done) else 200
        return Recording(results=[_result(r) for r in done])

    async def github_signature(
        request: Request, x_hub_signature_256: Annotated[str | None, Header()] = None
    ) -> None:
        secret = settings.ci_github_webhook_secret.get_secret_value().encode()
        if not github.signature_matches(secret, await request.body(), x_hub_signature_256):
            raise Problem(401, "missing or wrong X-Hub-Signature-256", headers=_CHALLENGE)

    def gitlab_token(x_gitlab_token: Annotated[str | None, Header()] = None) -> None:
        if not _secret_matches(x_gitlab_token, settings.ci_gitlab_webhook_token):
            raise Problem(401, "missing or wrong X-Gitlab-Token", headers=_CHALLENGE)

    @router.post(
        "/webhooks/github",
        response_model=Recording,
        tags=["ci"],
        dependencies=[Depends(github_signature)],
        responses={201: {"model": Recording}},
    )
    async def github_webhook(
        request: Request,
        response: Response,
        x_github_event: Annotated[str, Header(max_length=100)],
        x_github_delivery: Annotated[str, Header(min_length=1, max_length=200)],
    ) -> Recording:
        """GitHub `workflow_run`, `workflow_job`, `check_suite` and `check_run` deliveries
        (others, `ping` included, answer 200 with the reason they record nothing)."""
        payload = _json_object(await request.body())
        try:
            observation = github.observe(x_github_event, payload)
        except github.Ignored as ignored:
            return Recording(results=[], ignored=str(ignored))
        except BadInput as error:
            raise _unprocessable(error) from None
        sender = payload.get("sender")
        login = sender.get("login") if isinstance(sender, dict) else None
        actor = Actor(id=f"github:{login or 'webhook'}"[:200], role=Role.AUTOMATION)
        return await record([observation], f"github:{x_github_delivery}", actor, response)

    @router.post(
        "/webhooks/gitlab",
        response_model=Recording,
        tags=["ci"],
        dependencies=[Depends(gitlab_token)],
        responses={201: {"model": Recording}},
    )
    async def gitlab_webhook(
        request: Request,
        response: Response,
        x_gitlab_event: Annotated[str | None, Header(max_length=100)] = None,
    ) -> Recording:
        """GitLab Pipeline Hooks: the pipeline and each of its jobs, each job once per status."""
        if x_gitlab_event not in (None, gitlab.EVENT):
            return Recording(results=[], ignored=f"GitLab {x_gitlab_event!r} is not a CI result")
        payload = _json_object(await request.body())
        try:
            observations = gitlab.observe(payload)
        except gitlab.Ignored as ignored:
            return Recording(results=[], ignored=str(ignored))
        except BadInput as error:
            raise _unprocessable(error) from None
        user = payload.get("user")
        name = user.get("username") if isinstance(user, dict) else None
        actor = Actor(id=f"gitlab:{name or 'webhook'}"[:200], role=Role.AUTOMATION)
        return await record(observations, "gitlab", actor, response)

    def upload_route(kind: ReportKind, path: str, summary: str) -> None:
        @router.post(
            path,
            response_model=Recording,
            tags=["ci"],
            summary=summary,
            responses={201: {"model": Recording}},
        )
        async def upload(
            request: Request,
            response: Response,
            principal: Uploader,
            branch: Annotated[str, Query(min_length=1, max_length=255)],
            commit: Annotated[str, Query(min_length=7, max_length=64)],
            suite: Annotated[str, Query(min_length=1, max_length=200)],
            run_url: Annotated[str | None, Query(max_length=2000)] = None,
            repository: Annotated[str | None, Query(max_length=200)] = None,
        ) -> Recording:
            """The report is the body (`curl --data-binary @report`) or the `file` part of a
            multipart form; it is recorded for `branch`, `commit` and `suite` (the job name
            that maps to a gate)."""
            body = await _report_body(request)
            try:
                target = Upload.of(
                    kind,
                    branch=branch,
                    commit=commit,
                    suite=suite,
                    run_url=run_url,
                    repository=repository,
                )
            except BadInput as error:
                raise _unprocessable(error, within="query") from None
            try:
                observation = reports.observe(target, body, recorder.policy)
            except BadInput as error:
                raise _unprocessable(error) from None
            actor = principal.acting_as(next(r for r in UPLOAD_ROLES if principal.has(r)))
            return await record([observation], target.delivery_id(body), actor, response)

    upload_route(ReportKind.JUNIT, "/ci/junit", "Upload a JUnit XML test report")
    upload_route(ReportKind.SARIF, "/ci/sarif", "Upload a SARIF 2.1.0 security scan")
    upload_route(
        ReportKind.PIP_AUDIT, "/ci/dependency-scan", "Upload pip-audit's JSON dependency scan"
    )
    return router


_CHALLENGE = {"WWW-Authenticate": 'Signature realm="lts-flow"'}


def _secret_matches(given: str | None, secret: SecretStr) -> bool:
    return given is not None and hmac.compare_digest(
        given.encode(), secret.get_secret_value().encode()
    )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Problem(422, f"body: not JSON: {error}", field="body") from None
    if not isinstance(payload, dict):
        raise Problem(422, "body: a JSON object is required", field="body")
    return payload


async def _report_body(request: Request) -> bytes:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await request.body()
    form = await request.form()
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise Problem(
            422, "body.file: the report is required as the form's `file`", field="body.file"
        )
    return await part.read()


def _unprocessable(error: BadInput, *, within: str = "body") -> Problem:
    """`error.field` is a path in what the parser read: the body, or the query parameters."""
    field = within if error.field in ("body", "(root)") else f"{within}.{error.field}"
    return Problem(422, f"{field}: {error.reason}", field=field)


def _result(done: Recorded) -> RecordedResult:
    event = done.event
    return RecordedResult(
        delivery_id=event.delivery_id,
        branch=event.branch,
        commit=event.commit,
        job=event.job,
        gate=event.gate,
        status=event.status,
        recorded=not done.duplicate,
    )
