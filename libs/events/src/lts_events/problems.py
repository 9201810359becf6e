"""Errors as RFC 9457 problem details (`application/problem+json`) for every route of every
service: the host installs these answers for `HTTPException` (401/403 of the authenticator,
404, 409...) and for request validation errors, so a client reads one shape everywhere.

A validation error names the first offending field in `detail` and `field` (`body.alerts.0.
startsAt`) and lists every error in `errors`, each with FastAPI's `loc` path, `msg` and `type`.
A route raises `Problem` for a refusal about one field of its input (`field` in the same dotted
format) or with more members (412's `etag`); `LimitedBodyRoute` refuses a body above its limit
with 413 before it is parsed."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        **extra,
    }
    # ASCII escapes: an error may echo input, and a lone surrogate cannot be encoded as UTF-8
    return Response(
        json.dumps(jsonable_encoder(body), ensure_ascii=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def unavailable(cause: str) -> Response:
    """503 for a request that failed because the database or the broker is away (`cause`, as
    `faults.describe` puts it): webhook senders and clients retry it after Retry-After."""
    return problem(
        503, f"a dependency is unavailable: {cause}; retry later", headers={"Retry-After": "5"}
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def dotted(loc: Any) -> str:
    """A field's path as every service names it: `body.runs.0.level`, `query.commit`."""
    return ".".join(str(part) for part in loc)


class Problem(HTTPException):
    """Raise in a route to answer with a problem naming the `field` of the input it is about
    (dotted, as validation errors name it) and any more `members` of the body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        **members: Any,
    ) -> None:
        super().__init__(status, detail, headers=dict(headers) if headers else None)
        self.members: dict[str, Any] = members if field is None else {"field": field, **members}


async def http_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code < 400:  # 304 Not Modified and the like: no body at all
        return Response(status_code=error.status_code, headers=headers)
    detail = error.detail if isinstance(error.detail, str) else _title(error.status_code)
    extra: dict[str, Any] = {} if isinstance(error.detail, str) else {"errors": error.detail}
    if isinstance(error, Problem):
        extra |= error.members
    return problem(error.status_code, detail, headers=headers, **extra)


async def validation_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return validation_answer(error)


def validation_answer(error: RequestValidationError) -> Response:
    """422 naming the first offending field, every error listed with its `loc` path."""
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in error.errors()
    ]
    field = dotted(errors[0]["loc"]) if errors else "body"
    message = errors[0]["msg"] if errors else "invalid"
    return problem(422, f"{field}: {message}", field=field, errors=errors)


def install_problem_answers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_problem)
    app.add_exception_handler(RequestValidationError, validation_problem)


class LimitedBodyRoute(APIRoute):
    """A route that reads a POST/PUT/PATCH body of at most `max_body_bytes` (declared or
    streamed) and refuses a larger one with 413 before anything parses it."""

    max_body_bytes: ClassVar[int] = 1_048_576

    @classmethod
    def of(cls, max_body_bytes: int) -> type[LimitedBodyRoute]:
        return type("LimitedBodyRoute", (cls,), {"max_body_bytes": max_body_bytes})

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.max_body_bytes

        async def read_limited_then_handle(request: Request) -> Response:
            if request.method in {"POST", "PUT", "PATCH"}:
                await _read_limited(request, limit)
            return await handler(request)

        return read_limited_then_handle


async def _read_limited(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"body larger than {limit} bytes", field="body")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise Problem(413, f"body larger than {limit} bytes", field="body")
    request._body = bytes(body)  # what request.body() returns from now on
