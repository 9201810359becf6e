"""Every service answers errors as RFC 9457 problem details: the host's answers for
HTTPException and request validation errors (installed by `build_app`)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from lts_events.problems import install_problem_answers
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

    return made


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
