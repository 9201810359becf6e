"""Every service answers errors as RFC 9457 problem details: the host's answers for
HTTPException and request validation errors (installed by `build_app`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from lts_events.problems import LimitedBodyRoute, Problem, install_problem_answers
from pydantic import BaseModel


class Alert(BaseModel):
    starts_at: str


def app() -> FastAPI:
    made = FastAPI()
    install_problem_answers(made)

    @made.post("/alerts")
    async def alert(body: list[Alert]) -> dict[str, int]:
        return {"count": len(body)}

    @made.get("/refused")
    async def refused() -> None:
        raise HTTPException(403, "does not hold the role qa", headers={"X-Why": "role"})

    @made.get("/unchanged")
    async def unchanged() -> None:
        raise HTTPException(304, headers={"ETag": '"3"'})

    @made.get("/signed")
    async def signed() -> None:
        raise Problem(401, "missing signature", field="header.signature", headers=CHALLENGE)

    limited = APIRouter(route_class=LimitedBodyRoute.of(10))

    @limited.post("/reports")
    async def report(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    made.include_router(limited)
    return made


CHALLENGE = {"WWW-Authenticate": 'Signature realm="x"'}


async def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://svc")


async def test_a_validation_error_names_the_field_and_lists_every_error() -> None:
    async with await _client() as http:
        answer = await http.post("/alerts", json=[{"starts_at": "x"}, {}])

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["field"] == "body.1.starts_at"
    assert body["detail"].startswith("body.1.starts_at: ")
    assert [e["loc"] for e in body["errors"]] == [["body", 1, "starts_at"]]


async def test_an_http_error_and_an_unknown_route_are_problems_with_their_headers() -> None:
    async with await _client() as http:
        refused = await http.get("/refused")
        unknown = await http.get("/nowhere")
        unchanged = await http.get("/unchanged")

    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "does not hold the role qa",
    }
    assert refused.headers["x-why"] == "role"
    assert unknown.status_code == 404
    assert unknown.json()["title"] == "Not Found"
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == '"3"'


async def test_a_raised_problem_names_its_field_and_keeps_its_headers() -> None:
    async with await _client() as http:
        answer = await http.get("/signed")

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"] == CHALLENGE["WWW-Authenticate"]
    assert answer.json()["field"] == "header.signature"
    assert answer.json()["detail"] == "missing signature"


async def test_a_body_above_the_routes_limit_is_413_declared_or_streamed() -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(3):
            yield b"12345"

    async with await _client() as http:
        fits = await http.post("/reports", content=b"1234567890")
        declared = await http.post("/reports", content=b"12345678901")
        streamed = await http.post("/reports", content=chunks())

    assert (fits.status_code, fits.json()) == (200, {"size": 10})
    assert declared.status_code == streamed.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert streamed.json()["field"] == "body"
