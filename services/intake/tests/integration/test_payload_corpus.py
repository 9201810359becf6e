"""The real payload corpus of `tests/fixtures` through the real app, store and relay: every file
to every endpoint, the shapes older and third-party senders use, and the inputs intake
understands but does not act on."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from lts_events.contracts.intake import TicketOpened

from .conftest import (
    ALERT_TOKEN,
    FIXTURES,
    GITLAB_TOKEN,
    Running,
    bearer,
    consume_until,
    fixture_bytes,
    fixture_json,
    github_headers,
    types,
)

pytestmark = pytest.mark.integration

CORPUS = sorted(p.name for p in FIXTURES.iterdir() if p.suffix in {".json", ".yaml"})
GITHUB_EVENTS = ("issues", "security_advisory", "release", "deployment_status", "ping")
GITLAB_EVENTS = ("Issue Hook", "Confidential Issue Hook", "Push Hook", None)


async def _post_everywhere(client: httpx.AsyncClient, name: str) -> list[tuple[str, int, str]]:
    """Every endpoint that takes a body, with valid credentials, gets the file as it is."""
    body = fixture_bytes(name)
    content_type = "application/yaml" if Path(name).suffix == ".yaml" else "application/json"
    plain = {"Content-Type": content_type}
    attempts: list[tuple[str, dict[str, str]]] = [
        ("/webhooks/alertmanager", {**plain, **bearer(ALERT_TOKEN)}),
        ("/webhooks/grafana", {**plain, **bearer(ALERT_TOKEN)}),
        ("/feeds/osv", {**plain, **bearer("dev-automation")}),
        ("/reports", {**plain, **bearer("dev-requester")}),
    ]
    attempts += [
        (
            "/webhooks/github",
            {**github_headers(body, event=event, delivery=uuid.uuid4().hex), **plain},
        )
        for event in GITHUB_EVENTS
    ]
    attempts += [
        (
            "/webhooks/gitlab",
            {**plain, "X-Gitlab-Token": GITLAB_TOKEN, **({"X-Gitlab-Event": e} if e else {})},
        )
        for e in GITLAB_EVENTS
    ]
    answers = []
    for path, headers in attempts:
        response = await client.post(path, content=body, headers=headers)
        event = headers.get("X-GitHub-Event") or headers.get("X-Gitlab-Event") or ""
        answers.append((f"{name} -> {path} {event}", response.status_code, response.text[:300]))
    return answers


async def test_every_payload_of_the_corpus_posted_to_every_endpoint_never_gets_a_5xx(
    service: Running,
) -> None:
    answers = [a for name in CORPUS for a in await _post_everywhere(service.client, name)]

    assert len(CORPUS) >= 24
    assert [a for a in answers if a[1] >= 500] == []
    assert {status for _, status, _ in answers} <= {200, 201, 422}


async def test_a_notification_without_fingerprints_lands_on_alertmanager_s_own_keys(
    service: Running, kafka: str
) -> None:
    payload = fixture_json("alertmanager_exec_notifier.json")
    bare = json.loads(json.dumps(payload))
    del bare["alerts"][0]["fingerprint"], bare["alerts"][0]["status"]

    first = await service.client.post(
        "/webhooks/alertmanager", json=bare, headers=bearer(ALERT_TOKEN)
    )
    again = await service.client.post(
        "/webhooks/alertmanager", json=payload, headers=bearer(ALERT_TOKEN)
    )

    assert first.status_code == 200, first.text
    assert [r["outcome"] for r in first.json()["results"]] == ["opened"]
    assert [r["outcome"] for r in again.json()["results"]] == ["unchanged"]
    seen = await consume_until(kafka, service.events_topic, lambda s: TicketOpened.type in types(s))
    [opened] = [e for e in seen if e.type == TicketOpened.type]
    assert opened.data["alert_fingerprint"] == "4ea129fd903f0e45"


async def test_an_old_alertmanager_notification_opens_a_ticket_per_alert(service: Running) -> None:
    payload = fixture_json("alertmanager_version_0.json")

    response = await service.client.post(
        "/webhooks/alertmanager", json=payload, headers=bearer(ALERT_TOKEN)
    )

    assert response.status_code == 200, response.text
    assert [r["outcome"] for r in response.json()["results"]] == ["opened"] * len(payload["alerts"])


async def test_a_gitlab_incident_work_item_opens_a_ticket(service: Running) -> None:
    response = await service.client.post(
        "/webhooks/gitlab",
        json=fixture_json("gitlab_work_item_incident_opened.json"),
        headers={"X-Gitlab-Token": GITLAB_TOKEN, "X-Gitlab-Event": "Issue Hook"},
    )

    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["outcome"] == "opened"
    ticket = await service.ticket(result["ticket_id"])
    assert ticket["source"] == "gitlab"
    assert "incident" in ticket["labels"]


@pytest.mark.parametrize(
    ("path", "name", "event", "why"),
    [
        ("/webhooks/github", "github_release_created.json", "release", "'release' events"),
        (
            "/webhooks/github",
            "github_deployment_status.json",
            "deployment_status",
            "'deployment_status' events",
        ),
        ("/webhooks/github", "github_ping.json", "ping", "'ping' events"),
        ("/webhooks/grafana", "grafana_legacy_alert.json", None, "legacy alerting"),
        ("/webhooks/gitlab", "gitlab_work_item_epic_opened.json", "Issue Hook", "Epic"),
    ],
)
async def test_an_input_understood_but_not_actionable_is_ignored_saying_why(
    service: Running, path: str, name: str, event: str | None, why: str
) -> None:
    body = fixture_bytes(name)
    headers = {
        "/webhooks/github": github_headers(body, event=event or "", delivery=uuid.uuid4().hex),
        "/webhooks/grafana": {**bearer(ALERT_TOKEN), "Content-Type": "application/json"},
        "/webhooks/gitlab": {
            "X-Gitlab-Token": GITLAB_TOKEN,
            "X-Gitlab-Event": event or "",
            "Content-Type": "application/json",
        },
    }[path]

    response = await service.client.post(path, content=body, headers=headers)

    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["outcome"] == "ignored"
    assert why in result["reason"]
    assert await service.recorded() == []


@pytest.mark.parametrize(
    ("path", "body", "headers", "loc"),
    [
        (
            "/reports",
            '{"title": "bad \\ud800 title", "description": "x"}',
            bearer("dev-requester"),
            ["body", "title"],
        ),
        (
            "/webhooks/alertmanager",
            fixture_bytes("alertmanager_firing.json").decode().replace("andromeda", "andr\\ud800"),
            bearer(ALERT_TOKEN),
            ["body", "alerts", 0, "labels", "host"],
        ),
        (
            "/webhooks/gitlab",
            fixture_bytes("gitlab_work_item_incident_opened.json")
            .decode()
            .replace('"event_type": "work_item"', '"event_type": "work\\udc00item"', 1),
            {"X-Gitlab-Token": GITLAB_TOKEN},
            ["body", "event_type"],  # a field intake does not read, kept in the raw payload
        ),
    ],
)
async def test_a_lone_surrogate_is_refused_with_a_422_naming_where_not_a_500(
    service: Running, path: str, body: str, headers: dict[str, str], loc: list[str | int]
) -> None:
    # "\ud800" is valid JSON but no UTF-8: PostgreSQL cannot store it, and an error message
    # that echoes it back could not be encoded either.
    response = await service.client.post(
        path, content=body.encode(), headers={**headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert await service.recorded() == []
