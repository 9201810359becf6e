"""Real payloads of `tests/fixtures` posted to the routes of the service as `build(context)`
makes it, on the in-memory store: what the sender is answered, and what a redelivery or a
changed record does (see the fixtures' README for where each file comes from)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lts_devtools.in_memory_service import in_memory_context
from lts_events.auth import Authenticator
from lts_events.clock import FrozenClock
from lts_events.contracts.common import ticket_stream
from lts_events.contracts.intake import AdvisoryWithdrawn, DuplicateLinked, TicketLabelled
from lts_events.problems import install_problem_answers
from lts_events.store.memory import InMemoryEventStore
from lts_intake.main import build

FIXTURES = Path(__file__).parent.parent / "fixtures"
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
FEED = {"Authorization": "Bearer dev-automation", "Content-Type": "application/json"}
ALERTS = {"Authorization": "Bearer dev-alert-webhook-token", "Content-Type": "application/json"}
GITHUB_SECRET = b"dev-github-webhook-secret"


@dataclasses.dataclass
class Service:
    client: httpx.AsyncClient
    store: InMemoryEventStore

    async def post(self, path: str, name: str, headers: dict[str, str]) -> list[dict[str, Any]]:
        response = await self.client.post(
            path, content=(FIXTURES / name).read_bytes(), headers=headers
        )
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    async def github(self, name: str, event: str = "issues") -> dict[str, Any]:
        """The file as GitHub delivers it: signed, with a delivery id of its own."""
        body = (FIXTURES / name).read_bytes()
        signature = hmac.new(GITHUB_SECRET, body, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": uuid.uuid4().hex,
            "X-Hub-Signature-256": f"sha256={signature}",
            "Content-Type": "application/json",
        }
        response = await self.client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 200, response.text
        [result] = response.json()["results"]
        assert isinstance(result, dict)
        return result

    async def gitlab(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An Issue Hook as GitLab delivers it, with an event UUID of its own."""
        headers = {
            "X-Gitlab-Token": "dev-gitlab-webhook-token",
            "X-Gitlab-Event": "Issue Hook",
            "X-Gitlab-Event-UUID": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        response = await self.client.post("/webhooks/gitlab", json=payload, headers=headers)
        assert response.status_code == 200, response.text
        [result] = response.json()["results"]
        assert isinstance(result, dict)
        return result


@pytest.fixture
async def service(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    monkeypatch.setenv("LTS_ENVIRONMENT", "local")  # the dev tokens
    monkeypatch.delenv("LTS_AUTH_TOKENS", raising=False)
    monkeypatch.setenv("LTS_INTAKE_PRODUCT_PACKAGES", "[]")  # every package is the product's
    context, store = in_memory_context("intake", clock=FrozenClock(T0))
    context = dataclasses.replace(context, authenticator=Authenticator.from_settings())
    app = FastAPI()
    install_problem_answers(app)  # as the host does
    for router in build(context).routers:
        app.include_router(router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as client:
        yield Service(client, store)


async def test_a_withdrawn_record_no_ticket_knows_is_ignored_saying_why(service: Service) -> None:
    # ossf/osv-schema's GHSA converter output for a withdrawn advisory: it opens no ticket, and
    # the answer said "ignored" with no reason at all.
    [result] = await service.post("/feeds/osv", "GHSA-35c4-f3rq-f9g3_withdrawn.json", FEED)

    assert result["outcome"] == "ignored"
    assert "GHSA-35c4-f3rq-f9g3 is withdrawn" in result["reason"]


async def test_a_resolved_alert_no_ticket_knows_is_ignored_saying_why(service: Service) -> None:
    [result] = await service.post(
        "/webhooks/alertmanager", "alertmanager_resolved_kubernetes.json", ALERTS
    )

    assert result["outcome"] == "ignored"
    assert "alert fbab788ec4c1018b resolved" in result["reason"]


async def test_a_go_vulndb_record_withdrawn_later_is_withdrawn_though_its_modified_is_unchanged(
    service: Service,
) -> None:
    # golang/vulndb's data/osv/GO-2024-2442.json before and after it was withdrawn: both say
    # "modified": "0001-01-01T00:00:00Z" (every record of that repository does), so the
    # withdrawn version was answered duplicate_delivery and the ticket stayed open.
    [opened] = await service.post("/feeds/osv", "GO-2024-2442.json", FEED)
    [again] = await service.post("/feeds/osv", "GO-2024-2442.json", FEED)
    [withdrawn] = await service.post("/feeds/osv", "GO-2024-2442_withdrawn.json", FEED)

    assert opened["outcome"] == "opened"
    assert again["outcome"] == "duplicate_delivery"
    assert (withdrawn["outcome"], withdrawn["events"]) == ("updated", [AdvisoryWithdrawn.type])
    last = (await service.store.read_stream(ticket_stream(opened["ticket_id"]))).events[-1]
    assert isinstance(last.event, AdvisoryWithdrawn)
    assert last.event.withdrawn_at == datetime(2024, 1, 23, 12, 50, 23, tzinfo=UTC)


# octokit/webhooks payload-examples issues/transferred and issues/opened.with-transfer: one issue
# moved from octo-org/hello-world-npm (#1) to Codertocat/Hello-World (#1). GitHub sends the old
# repository `transferred` (changes.new_issue) and the new one `opened` (changes.old_issue).
OLD_ISSUE = "https://github.com/octo-org/hello-world-npm/pull/1"
NEW_ISSUE = "https://github.com/Codertocat/Hello-World/issues/1"


async def test_a_transferred_issue_keeps_its_ticket_in_the_new_repository(
    service: Service,
) -> None:
    # The ticket was keyed on the old issue's URL only: the new repository's `labeled` for the
    # moved issue found no ticket ("ignored") and its `opened` opened a second one.
    transferred = await service.github("github_issues_transferred.json")
    labeled = await service.github("github_issues_labeled.json")  # on Codertocat/Hello-World#1
    opened = await service.github("github_issues_opened_with_transfer.json")

    assert transferred["outcome"] == "opened"
    assert labeled["ticket_id"] == transferred["ticket_id"], labeled
    assert (opened["ticket_id"], opened["outcome"]) == (transferred["ticket_id"], "unchanged")
    ticket = (
        await service.client.get(
            f"/tickets/{transferred['ticket_id']}",
            headers={"Authorization": "Bearer dev-requester"},
        )
    ).json()
    assert ticket["external_ref"] == NEW_ISSUE


async def test_an_issue_moved_before_its_transfer_arrives_is_one_ticket(service: Service) -> None:
    # Deliveries from two repositories come in any order: the old issue's ticket first, then the
    # new repository's `opened` (changes.old_issue), then the `transferred`.
    first = await service.github("github_issues_transferred.json")
    again = await service.github("github_issues_opened_with_transfer.json")
    assert again["ticket_id"] == first["ticket_id"]


async def test_the_new_repository_s_opened_before_the_transfer_is_one_ticket(
    service: Service,
) -> None:
    opened = await service.github("github_issues_opened_with_transfer.json")
    transferred = await service.github("github_issues_transferred.json")

    assert opened["outcome"] == "opened"
    assert transferred["ticket_id"] == opened["ticket_id"], transferred
    history = (await service.store.read_stream(ticket_stream(opened["ticket_id"]))).events
    assert [type(e.event).__name__ for e in history] == ["TicketOpened"]


async def test_github_issue_actions_after_opened_reach_its_ticket_or_say_why_not(
    service: Service,
) -> None:
    # octokit/webhooks payload-examples issues/{opened,edited,deleted,reopened}, all on
    # Codertocat/Hello-World#1: an edit or a deletion changes no ticket (intake has no event for
    # either) and says so; a reopen finds the ticket it opened, unchanged.
    opened = await service.github("github_issues_opened.json")
    answers = {
        action: await service.github(f"github_issues_{action}.json")
        for action in ("edited", "deleted", "reopened")
    }

    for action, answer in answers.items():
        assert answer["ticket_id"] == opened["ticket_id"], (action, answer)
        assert answer["outcome"] == "unchanged", (action, answer)
    assert answers["edited"]["reason"] == "issues.edited does not open or change a ticket"
    assert answers["deleted"]["reason"] == "issues.deleted does not open or change a ticket"


# opsdroid/opsdroid d22d8e3 connector/gitlab/tests/gitlab_response_payloads, captured on
# GitLab.com: GitLab labels an issue with an `update` whose changes.labels holds the label lists
# before and after; it has no labelling action like GitHub's `labeled`.


def as_opened(name: str) -> dict[str, Any]:
    """The Issue Hook the issue of `name` opened with: the same issue, action `open`, no
    changes and the labels it had before the update (the capture has no `open` of its own)."""
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    previous = payload["changes"]["labels"]["previous"]
    attributes = {**payload["object_attributes"], "action": "open", "labels": previous}
    return {**payload, "object_attributes": attributes, "labels": previous, "changes": {}}


async def test_a_gitlab_label_added_labels_the_issue_s_ticket(service: Service) -> None:
    # The update was answered "unchanged: issue action 'update' does not open a ticket", so a
    # label added on GitLab (e.g. security) never reached the ticket, unlike GitHub's `labeled`.
    name = "gitlab_issue_hook_update_label_added.json"
    opened = await service.gitlab(as_opened(name))
    labelled = await service.gitlab(json.loads((FIXTURES / name).read_text()))

    assert opened["outcome"] == "opened"
    assert labelled["ticket_id"] == opened["ticket_id"], labelled
    assert (labelled["outcome"], labelled["events"]) == ("updated", [TicketLabelled.type])
    history = (await service.store.read_stream(ticket_stream(opened["ticket_id"]))).events
    event = history[-1].event
    assert isinstance(event, TicketLabelled)
    assert (event.labels, event.reason) == (["blah"], "labelled on GitLab by FabioRosado")
    ticket = (
        await service.client.get(
            f"/tickets/{opened['ticket_id']}", headers={"Authorization": "Bearer dev-requester"}
        )
    ).json()
    assert "blah" in ticket["labels"]


async def test_a_gitlab_label_replaced_adds_only_the_new_label(service: Service) -> None:
    name = "gitlab_issue_hook_update_label_replaced.json"  # blah -> test-label
    opened = await service.gitlab(as_opened(name))
    labelled = await service.gitlab(json.loads((FIXTURES / name).read_text()))

    assert (labelled["ticket_id"], labelled["outcome"]) == (opened["ticket_id"], "updated")
    event = (await service.store.read_stream(ticket_stream(opened["ticket_id"]))).events[-1].event
    assert isinstance(event, TicketLabelled)
    assert event.labels == ["test-label"]


async def test_a_gitlab_label_added_to_an_issue_without_a_ticket_says_why(
    service: Service,
) -> None:
    answer = await service.gitlab(
        json.loads((FIXTURES / "gitlab_issue_hook_update_label_added.json").read_text())
    )

    assert answer["outcome"] == "ignored"
    assert answer["reason"] == "labels added to an issue no ticket was opened for"


# The same Django CVE from PyPI's advisory database (aliases: [CVE-2024-45230]) and from Ubuntu
# (canonical/ubuntu-security-notices osv/cve/2024/UBUNTU-CVE-2024-45230.json: upstream:
# [CVE-2024-45230], related: [USN-6987-1]).
YAML_FEED = {**FEED, "Content-Type": "application/yaml"}


async def test_the_same_cve_from_pypi_and_from_ubuntu_is_one_ticket(service: Service) -> None:
    # Ubuntu's record was keyed by its own id only, so it opened a second ticket for the CVE.
    [pypi] = await service.post("/feeds/osv", "PYSEC-0000-CVE-2024-45230.yaml", YAML_FEED)
    [ubuntu] = await service.post("/feeds/osv", "UBUNTU-CVE-2024-45230.json", FEED)

    assert pypi["outcome"] == "opened"
    assert (ubuntu["ticket_id"], ubuntu["outcome"]) == (pypi["ticket_id"], "updated"), ubuntu
    event = (await service.store.read_stream(ticket_stream(pypi["ticket_id"]))).events[-1].event
    assert isinstance(event, DuplicateLinked)
    assert (event.duplicate_ref, event.cve_ids) == ("UBUNTU-CVE-2024-45230", ["CVE-2024-45230"])


async def test_ubuntu_s_record_first_then_pypi_s_is_one_ticket(service: Service) -> None:
    [ubuntu] = await service.post("/feeds/osv", "UBUNTU-CVE-2024-45230.json", FEED)
    [pypi] = await service.post("/feeds/osv", "PYSEC-0000-CVE-2024-45230.yaml", YAML_FEED)

    assert ubuntu["outcome"] == "opened"
    assert (pypi["ticket_id"], pypi["outcome"]) == (ubuntu["ticket_id"], "updated"), pypi
