"""Errors as RFC 9457 problem details (`application/problem+json`) for every route of every
service: the host installs these answers for `HTTPException` (401/403 of the authenticator,
404, 409...) and for request validation errors, so a client reads one shape everywhere.

A validation error names the first offending field in `detail` and `field` (`body.alerts.0.
startsAt`) and lists every error in `errors`, each with FastAPI's `loc` path, `msg` and `type`.
Routes with their own problem answers (release's `ProblemRoute`, comms') answer before these."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def dotted(loc: Any) -> str:
    return ".".join(str(part) for part in loc)


async def http_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    if error.status_code < 400:  # 304 Not Modified and the like: no body at all
        return Response(status_code=error.status_code, headers=headers)
    detail = error.detail if isinstance(error.detail, str) else _title(error.status_code)
    extra: dict[str, Any] = {} if isinstance(error.detail, str) else {"errors": error.detail}
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
