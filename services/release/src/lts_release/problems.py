"""Errors as RFC 9457 problem details (`application/problem+json`) for the release service's
routes: `ProblemRoute` answers a request validation error, an `HTTPException` (401 and 403 of
the authenticator included) and a raised `Problem` in that shape, and refuses bodies above its
`max_body_bytes` with 413 before they are parsed. A problem about one field of the input names
it in `field` (and every field in `errors`), e.g. `query.commit` or `runs[0].results[3].level`."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from lts_release.fields import dotted

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise in a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    # ASCII escapes: an error may echo input, and a lone surrogate cannot be encoded as UTF-8
    return Response(
        json.dumps(body, ensure_ascii=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _validation_problem(error: RequestValidationError) -> Response:
    errors = [
        {"field": dotted(e.get("loc", ())), "message": str(e.get("msg", ""))}
        for e in error.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return problem_response(
        422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors
    )


class ProblemRoute(APIRoute):
    # None: the route streams its body itself (artifact uploads), nothing is read here.
    max_body_bytes: ClassVar[int | None] = 1_048_576

    @classmethod
    def limited(cls, max_body_bytes: int | None) -> type[ProblemRoute]:
        return type("ProblemRoute", (cls,), {"max_body_bytes": max_body_bytes})

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.max_body_bytes

        async def answer_problems(request: Request) -> Response:
            try:
                await _read_limited(request, limit)
                return await handler(request)
            except Problem as problem:
                return problem_response(
                    problem.status, problem.detail, field=problem.field, headers=problem.headers
                )
            except RequestValidationError as error:
                return _validation_problem(error)
            except HTTPException as error:
                return problem_response(error.status_code, str(error.detail), headers=error.headers)

        return answer_problems


async def _read_limited(request: Request, limit: int | None) -> None:
    if limit is None or request.method not in {"POST", "PUT", "PATCH"}:
        return
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise Problem(413, f"body larger than {limit} bytes")
    request._body = bytes(body)  # what request.body() returns from now on
