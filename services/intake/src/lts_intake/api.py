"""HTTP routes: authenticate or verify the producer, validate, call the shell, answer only once
the input is stored."""

import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal, TypeVar

import yaml
from fastapi import (
    APIRouter,
    Body,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from lts_events.actors import Actor, Role
from lts_events.auth import Authenticator, Principal
from lts_events.contracts.common import TicketSource
from lts_events.contracts.intake import TicketOpened
from lts_events.envelope import Metadata
from lts_events.http_versions import VersionedRead
from lts_events.problems import validation_answer
from lts_events.store.port import ProcessedMessage
from lts_events.telemetry import current_traceparent
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from lts_intake import standardize
from lts_intake.coalescer import Coalescer
from lts_intake.config import Settings
from lts_intake.formats import (
    AlertmanagerWebhook,
    GithubIssuesEvent,
    GithubSecurityAdvisoryEvent,
    GitlabIssueHook,
    GrafanaNotification,
    GrafanaWebhook,
    OsvRecord,
    ReportIn,
    may_hold_unstorable,
    nul_path,
)
from lts_intake.handlers import Intake, Outcome, Work
from lts_intake.model import Command, Ignore, OpenTicket, why_nothing
from lts_intake.tables import TicketViews
from lts_intake.views import TicketView

T = TypeVar("T")
FEED_ROLES = frozenset({Role.AUTOMATION, Role.SECURITY_REVIEWER})
GITLAB_ISSUE_EVENTS = ("Issue Hook", "Confidential Issue Hook")
GITLAB_ISSUE_KINDS = frozenset({"issue", "work_item"})
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_ALERTMANAGER = TypeAdapter(AlertmanagerWebhook)
_GRAFANA: TypeAdapter[GrafanaNotification] = TypeAdapter(GrafanaNotification)
ALERT_TOKEN_PARAMETERS = [
    {
        "name": "authorization",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Bearer <alert webhook token>",
    },
    {
        "name": "token",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Shared secret, for senders without headers",
    },
]


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: int | None
    outcome: Literal["opened", "updated", "unchanged", "ignored", "duplicate_delivery"]
    events: list[str] = Field(default_factory=list)
    reason: str | None = Field(
        default=None,
        description="Why an understood input changed nothing (e.g. an event type "
        "intake does not act on)",
    )


class Accepted(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: list[Result]


class TicketList(BaseModel):
    model_config = ConfigDict(frozen=True)

    tickets: list[TicketView]
    next_after: int | None


def _result(outcome: Outcome) -> Result:
    if outcome.duplicate_delivery:
        kind: Any = "duplicate_delivery"
    elif outcome.ticket_id is None:
        kind = "ignored"
    elif not outcome.events:
        kind = "unchanged"
    elif isinstance(outcome.events[0], TicketOpened):
        kind = "opened"
    else:
        kind = "updated"
    reason = (
        why_nothing(outcome.command)
        if kind == "ignored" or isinstance(outcome.command, Ignore)
        else None
    )
    return Result(
        ticket_id=outcome.ticket_id,
        outcome=kind,
        events=[e.type for e in outcome.events],
        reason=reason,
    )


def _ignored(reason: str) -> Accepted:
    """An input understood but not acted on: a 2xx saying why, so the sender does not retry."""
    return Accepted(results=[Result(ticket_id=None, outcome="ignored", reason=reason)])


class LimitedRoute(APIRoute):
    """Refuses bodies above `max_body_bytes` with 413 before they are parsed or stored."""

    max_body_bytes = 1_048_576

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.max_body_bytes

        async def limited(request: Request) -> Response:
            if request.method in {"POST", "PUT", "PATCH"}:
                declared = request.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    raise HTTPException(
                        status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {limit} bytes"
                    )
                body = bytearray()
                async for chunk in request.stream():
                    body.extend(chunk)
                    if len(body) > limit:
                        raise HTTPException(
                            status.HTTP_413_CONTENT_TOO_LARGE, f"body larger than {limit} bytes"
                        )
                request._body = bytes(body)
            try:
                return await handler(request)
            except RequestValidationError as error:
                return validation_answer(error)

        return limited


def _secret_matches(given: str | None, secret: SecretStr) -> bool:
    return given is not None and hmac.compare_digest(
        given.encode(), secret.get_secret_value().encode()
    )


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
    )


def _invalid(
    error: ValidationError, *, prefix: tuple[str | int, ...] = ("body",)
) -> RequestValidationError:
    return RequestValidationError(
        [
            {**e, "loc": (*prefix, *e["loc"])}
            for e in error.errors(include_url=False, include_context=False)
        ]
    )


def reject_nul(value: Any, *, prefix: tuple[str | int, ...] = ("body",)) -> None:
    """422 for a NUL character or a lone surrogate anywhere in the input (PostgreSQL cannot
    store either)."""
    found = nul_path(value)
    if found is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_nul",
                    "loc": (*prefix, *found),
                    "msg": "NUL characters (\\u0000) and lone surrogates (\\ud800-\\udfff) "
                    "are not accepted",
                    "input": None,
                }
            ]
        )


def _checked_context(body: BaseModel, raw: bytes, *, exclude: set[str]) -> dict[str, Any]:
    """The notification's fields but `exclude` as JSON (what its commands carry as context),
    from one dump of it, which `reject_nul` checks whole first when the body's JSON text `raw`
    may hold a NUL or a lone surrogate at all (`may_hold_unstorable`)."""
    dumped = body.model_dump(mode="json")
    if may_hold_unstorable(raw):
        reject_nul(dumped)
    return {name: value for name, value in dumped.items() if name not in exclude}


def _notification(adapter: TypeAdapter[T], raw: bytes) -> T:
    """The body parsed and validated in one pass by pydantic-core (a FastAPI body parameter
    would cost json.loads, validation of its Python value and a dependency to solve)."""
    try:
        return adapter.validate_json(raw)
    except ValidationError as error:
        if all(e["type"] != "json_invalid" for e in error.errors(include_url=False)):
            raise _invalid(error) from None
    # pydantic-core refuses a lone surrogate escape json.loads takes: validated from its value,
    # so that the NUL check after it answers 422 naming where the surrogate is.
    try:
        return adapter.validate_python(_json_body(raw))
    except ValidationError as error:
        raise _invalid(error) from None


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with each `$ref` to `definitions` replaced by the definition (the models are
    not recursive)."""
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    inlined = {key: _inlined(value, definitions) for key, value in schema.items() if key != "$ref"}
    if "$ref" in schema:
        return {**_inlined(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions), **inlined}
    return inlined


def _documented_body(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """The OpenAPI request body of a route reading its body itself (`_notification`), as
    FastAPI would document a body parameter of that type; and its 422."""
    schema = adapter.json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(schema, definitions)}},
        },
        "responses": {
            "422": {
                "description": "Validation Error",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                    }
                },
            }
        },
    }


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body",),
                    "msg": f"JSON decode error: {error}",
                    "input": None,
                }
            ]
        ) from None


def _actor_for(principal: Principal) -> Actor:
    if principal.has(Role.REQUESTER):
        return principal.acting_as(Role.REQUESTER)
    return principal.acting_as(sorted(principal.roles)[0])


def build_router(
    *,
    intake: Intake,
    repository: TicketViews,
    authenticator: Authenticator,
    settings: Settings,
) -> APIRouter:
    limited = type("LimitedRoute", (LimitedRoute,), {"max_body_bytes": settings.max_body_bytes})
    router = APIRouter(route_class=limited)
    Caller = Annotated[Principal, Depends(authenticator)]
    policy = intake.policy

    coalescer = Coalescer(lambda works: intake.execute_batch(works, update_view=True))

    async def results_of(works: Sequence[Work]) -> list[Result]:
        """Executed with the other requests in flight, as one batch (see `coalescer`)."""
        return [_result(outcome) for outcome in await coalescer.submit(works)]

    def metadata(actor: Actor, reason: str) -> Metadata:
        return Metadata(actor=actor, reason=reason, traceparent=current_traceparent())

    async def run(
        commands: Sequence[Command], *, actor: Actor, reason: str, delivery: ProcessedMessage | None
    ) -> list[Result]:
        """One input's commands, each answering the input's delivery id (`#index` when it
        carries several)."""
        deliveries: list[ProcessedMessage | None] = [delivery] * len(commands)
        if delivery is not None and len(commands) > 1:
            deliveries = [
                ProcessedMessage(delivery.consumer, f"{delivery.message_id}#{index}")
                for index in range(len(commands))
            ]
        shared = metadata(actor, reason)
        return await results_of(
            [Work(c, shared, d) for c, d in zip(commands, deliveries, strict=True)]
        )

    # async dependencies (nothing in them blocks): FastAPI runs a plain `def` one in a thread
    async def alert_token(request: Request) -> None:
        """The header or the query parameter read from `request` itself, documented by
        `ALERT_TOKEN_PARAMETERS`: as FastAPI parameters they were ~5% of intake's HTTP CPU
        per notification (the query string parsed even when the header is there)."""
        authorization = request.headers.get("authorization")
        given = (
            authorization.removeprefix("Bearer ").strip()
            if authorization
            else request.query_params.get("token")
        )
        if not _secret_matches(given, settings.alert_webhook_token):
            raise _unauthorized("missing or wrong alert webhook token")

    @router.post(
        "/reports", status_code=status.HTTP_201_CREATED, response_model=Result, tags=["people"]
    )
    async def report(
        body: ReportIn,
        principal: Caller,
        response: Response,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Result:
        """A person reports a bug, a security issue or a feature-safe change (ticket template)."""
        reject_nul(body.model_dump(mode="json"))
        reject_nul(idempotency_key, prefix=("header", "idempotency-key"))
        retry_id = f"{principal.actor_id}:{idempotency_key}" if idempotency_key else None
        command = standardize.from_report(
            body,
            reporter=principal.actor_id,
            contact=body.contact or principal.actor_id,
            now=intake.clock(),
            policy=policy,
            idempotency_key=retry_id,
        )
        delivery = ProcessedMessage("intake.reports", retry_id) if retry_id else None
        [result] = await run(
            [command], actor=_actor_for(principal), reason="report submitted", delivery=delivery
        )
        if result.outcome != "opened":
            response.status_code = status.HTTP_200_OK
        return result

    @router.post(
        "/webhooks/alertmanager",
        response_model=Accepted,
        tags=["alerts"],
        dependencies=[Depends(alert_token)],
        openapi_extra={"parameters": ALERT_TOKEN_PARAMETERS, **_documented_body(_ALERTMANAGER)},
    )
    async def alertmanager(request: Request) -> Accepted:
        """Prometheus Alertmanager webhook (version 4, or older and imitating senders): each
        grouped alert on its own."""
        raw = await request.body()
        body = _notification(_ALERTMANAGER, raw)
        context = _checked_context(body, raw, exclude={"alerts"})
        commands = standardize.from_alerts(
            body.alerts,
            source=TicketSource.ALERTMANAGER,
            now=intake.clock(),
            policy=policy,
            context=context,
            group_status=body.status,
        )
        actor = Actor(id=f"alertmanager:{body.receiver or 'webhook'}"[:200], role=Role.AUTOMATION)
        reason = f"alertmanager {body.status or 'notification'}"
        return Accepted(results=await run(commands, actor=actor, reason=reason, delivery=None))

    @router.post(
        "/webhooks/grafana",
        response_model=Accepted,
        tags=["alerts"],
        dependencies=[Depends(alert_token)],
        openapi_extra={"parameters": ALERT_TOKEN_PARAMETERS, **_documented_body(_GRAFANA)},
    )
    async def grafana(request: Request) -> Accepted:
        """Grafana unified alerting webhook contact point (a legacy alerting notification is
        answered "ignored", saying why)."""
        raw = await request.body()
        body = _notification(_GRAFANA, raw)
        if not isinstance(body, GrafanaWebhook):
            return _ignored(body.ignored_because())
        context = _checked_context(body, raw, exclude={"alerts", "message"})
        commands = standardize.from_alerts(
            body.alerts,
            source=TicketSource.GRAFANA,
            now=intake.clock(),
            policy=policy,
            context=context,
            group_status=body.status,
        )
        actor = Actor(id=f"grafana:{body.receiver or 'webhook'}"[:200], role=Role.AUTOMATION)
        return Accepted(
            results=await run(commands, actor=actor, reason=f"grafana {body.status}", delivery=None)
        )

    @router.post(
        "/feeds/osv",
        response_model=Accepted,
        tags=["advisories"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "description": "one OSV record (https://ossf.github.io/osv-schema/)",
                                },
                                {"type": "array", "items": {"type": "object"}, "minItems": 1},
                            ]
                        }
                    },
                    "application/yaml": {
                        "schema": {
                            "type": "string",
                            "description": "PyPI advisory-db YAML (one or more documents)",
                        }
                    },
                },
            }
        },
    )
    async def osv(request: Request, principal: Caller) -> Accepted:
        """OSV records: one, a list or {"records": [...]}; JSON or the PyPI advisory YAML."""
        if not principal.roles & FEED_ROLES:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "requires one of the roles: automation, security_reviewer",
            )
        records = parse_osv_body(await request.body(), request.headers.get("content-type", ""))
        now = intake.clock()
        commands = [standardize.from_osv(r, now=now, policy=policy) for r in records]
        deliveries = [ProcessedMessage("intake.osv", r.delivery_id()) for r in records]
        actor = principal.acting_as(
            Role.AUTOMATION if principal.has(Role.AUTOMATION) else Role.SECURITY_REVIEWER
        )
        shared = metadata(actor, "OSV feed")
        return Accepted(
            results=await results_of(
                [Work(c, shared, d) for c, d in zip(commands, deliveries, strict=True)]
            )
        )

    async def github_signature(
        request: Request, x_hub_signature_256: Annotated[str | None, Header()] = None
    ) -> None:
        """A dependency, so a bad signature answers 401 before the body is even validated."""
        secret = settings.github_webhook_secret.get_secret_value().encode()
        digest = hmac.new(secret, await request.body(), hashlib.sha256).hexdigest()
        if x_hub_signature_256 is None or not hmac.compare_digest(
            f"sha256={digest}", x_hub_signature_256
        ):
            raise _unauthorized("missing or wrong X-Hub-Signature-256")

    async def gitlab_token(x_gitlab_token: Annotated[str | None, Header()] = None) -> None:
        if not _secret_matches(x_gitlab_token, settings.gitlab_webhook_token):
            raise _unauthorized("missing or wrong X-Gitlab-Token")

    @router.post(
        "/webhooks/github",
        response_model=Accepted,
        tags=["trackers"],
        dependencies=[Depends(github_signature)],
    )
    async def github(
        payload: Annotated[dict[str, Any], Body()],
        x_github_event: Annotated[str, Header()],
        x_github_delivery: Annotated[str, Header(min_length=1, max_length=200)],
    ) -> Accepted:
        """GitHub `issues` and `security_advisory` events, verified with X-Hub-Signature-256."""
        reject_nul(payload)
        reject_nul(x_github_delivery, prefix=("header", "x-github-delivery"))
        now = intake.clock()
        command: Command
        try:
            if x_github_event == "issues":
                command = standardize.from_github_issue(
                    GithubIssuesEvent.model_validate(payload), now=now, policy=policy
                )
            elif x_github_event == "security_advisory":
                command = standardize.from_github_advisory(
                    GithubSecurityAdvisoryEvent.model_validate(payload), now=now, policy=policy
                )
            else:
                return _ignored(
                    f"GitHub {x_github_event!r} events open or change no ticket "
                    "(intake acts on: issues, security_advisory)"
                )
        except ValidationError as error:
            raise _invalid(error) from None
        sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
        actor = Actor(
            id=f"github:{(sender or {}).get('login', 'webhook')}"[:200], role=Role.AUTOMATION
        )
        delivery = ProcessedMessage("intake.github", x_github_delivery)
        return Accepted(
            results=await run(
                [command], actor=actor, reason=f"github {x_github_event}", delivery=delivery
            )
        )

    @router.post(
        "/webhooks/gitlab",
        response_model=Accepted,
        tags=["trackers"],
        dependencies=[Depends(gitlab_token)],
    )
    async def gitlab(
        payload: Annotated[dict[str, Any], Body()],
        x_gitlab_event: Annotated[str | None, Header()] = None,
        x_gitlab_event_uuid: Annotated[str | None, Header(max_length=200)] = None,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Accepted:
        """GitLab Issue Hook (and Confidential Issue Hook): classic issues and work items
        (incidents, tasks), verified with X-Gitlab-Token."""
        if x_gitlab_event not in {None, *GITLAB_ISSUE_EVENTS}:
            return _ignored(
                f"GitLab {x_gitlab_event!r} events open or change no ticket "
                f"(intake acts on: {', '.join(GITLAB_ISSUE_EVENTS)})"
            )
        kind = payload.get("object_kind")
        if isinstance(kind, str) and kind not in GITLAB_ISSUE_KINDS:
            return _ignored(f"GitLab {kind!r} objects open or change no ticket")
        reject_nul(payload)
        reject_nul([idempotency_key, x_gitlab_event_uuid], prefix=("header",))
        try:
            hook = GitlabIssueHook.model_validate(payload)
        except ValidationError as error:
            raise _invalid(error) from None
        command = standardize.from_gitlab_issue(hook, now=intake.clock(), policy=policy)
        delivery_id = idempotency_key or x_gitlab_event_uuid
        delivery = ProcessedMessage("intake.gitlab", delivery_id) if delivery_id else None
        actor = Actor(id=f"gitlab:{hook.user.username}"[:200], role=Role.AUTOMATION)
        return Accepted(
            results=await run([command], actor=actor, reason="gitlab issue hook", delivery=delivery)
        )

    @router.get("/tickets/{ticket_id}", response_model=TicketView, tags=["tickets"])
    async def get_ticket(
        ticket_id: Annotated[int, Path(ge=1, le=2**62)], _: Caller, versioned: VersionedRead
    ) -> TicketView:
        """The ticket; its ETag is the version of its stream the view shows."""
        view = await repository.ticket(ticket_id)
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ticket_id}")
        versioned.answer(view.version)
        return view

    @router.get("/tickets", response_model=TicketList, tags=["tickets"])
    async def list_tickets(
        _: Caller,
        label: Annotated[str | None, Query(max_length=100)] = None,
        state: Annotated[Literal["open", "resolved", "withdrawn"] | None, Query()] = None,
        source: Annotated[TicketSource | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    ) -> TicketList:
        reject_nul(label, prefix=("query", "label"))
        views = await repository.tickets(
            label=label,
            state=state,
            source=source.value if source else None,
            limit=limit,
            after=after,
        )
        return TicketList(
            tickets=views, next_after=views[-1].ticket_id if len(views) == limit else None
        )

    return router


def parse_osv_body(raw: bytes, content_type: str) -> list[OsvRecord]:
    """JSON (record, list, or {"records": [...]}) or YAML (one or more documents)."""
    if content_type.split(";")[0].strip().lower() in _YAML_TYPES:
        try:
            documents = [d for d in yaml.safe_load_all(raw) if d is not None]
        except yaml.YAMLError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "yaml_invalid",
                        "loc": ("body",),
                        "msg": f"YAML error: {error}",
                        "input": None,
                    }
                ]
            ) from None
        items: Any = (
            documents[0] if len(documents) == 1 and isinstance(documents[0], list) else documents
        )
    else:
        items = _json_body(raw)
    if isinstance(items, dict):
        items = items["records"] if "records" in items and "id" not in items else [items]
    if not isinstance(items, list) or not items:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body",),
                    "msg": "expected an OSV record, a non-empty list of records "
                    'or {"records": [...]}',
                    "input": None,
                }
            ]
        )
    reject_nul(items)
    records = []
    for index, item in enumerate(items):
        try:
            records.append(OsvRecord.model_validate(item))
        except ValidationError as error:
            raise _invalid(error, prefix=("body", index)) from None
    return records


def opened_ids(results: Sequence[Result]) -> list[int]:
    return [r.ticket_id for r in results if r.outcome == "opened" and r.ticket_id is not None]


__all__ = ["OpenTicket", "build_router", "parse_osv_body"]
