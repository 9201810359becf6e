"""Real producer payloads through the real HTTP app, the real store and the real relay: the
resulting events are read back from the service's Kafka topic."""

from __future__ import annotations

import asyncio
import json

import pytest
from lts_events.contracts.intake import (
    AdvisoryWithdrawn,
    AlertOccurrenceRecorded,
    AlertResolved,
    DuplicateLinked,
    TicketOpened,
)

from .conftest import (
    ALERT_TOKEN,
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


async def test_a_grouped_alertmanager_notification_opens_one_ticket_per_alert_on_the_topic(
    service: Running, kafka: str
) -> None:
    payload = fixture_json("alertmanager_firing.json")

    response = await service.client.post(
        "/webhooks/alertmanager", json=payload, headers=bearer(ALERT_TOKEN)
    )

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["opened", "opened"]
    seen = await consume_until(
        kafka, service.events_topic, lambda s: types(s).count(TicketOpened.type) == 2
    )
    opened = [e for e in seen if e.type == TicketOpened.type]
    assert {e.data["alert_fingerprint"] for e in opened} == {"a1bc48475b20e73d", "c2ea85182f28cbd9"}
    assert all(e.data["raw"]["alert"]["labels"]["host"] == "andromeda" for e in opened)
    assert all(e.data["severity_guess"] == "critical" for e in opened)
    assert {e.subject for e in opened} == {f"ticket-{r['ticket_id']}" for r in results}


async def test_alertmanager_repeating_the_same_notification_changes_nothing(
    service: Running,
) -> None:
    payload = fixture_json("alertmanager_firing.json")
    await service.client.post("/webhooks/alertmanager", json=payload, headers=bearer(ALERT_TOKEN))

    again = await service.client.post(
        "/webhooks/alertmanager", json=payload, headers=bearer(ALERT_TOKEN)
    )

    assert [r["outcome"] for r in again.json()["results"]] == ["unchanged", "unchanged"]
    assert [e.type for e in await service.recorded()] == [TicketOpened.type, TicketOpened.type]


async def test_a_refiring_alert_adds_an_occurrence_and_a_resolution_is_recorded(
    service: Running, kafka: str
) -> None:
    resolved = fixture_json("grafana_resolved.json")
    firing = json.loads(json.dumps(resolved).replace('"resolved"', '"firing"'))
    firing["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    refired = json.loads(json.dumps(firing))
    refired["alerts"][0]["startsAt"] = "2022-06-17T03:00:00Z"
    headers = {"Authorization": f"Bearer {ALERT_TOKEN}"}

    first = await service.client.post("/webhooks/grafana", json=firing, headers=headers)
    done = await service.client.post("/webhooks/grafana", json=resolved, headers=headers)
    again = await service.client.post("/webhooks/grafana", json=refired, headers=headers)

    ticket_id = first.json()["results"][0]["ticket_id"]
    assert done.json()["results"][0] == {
        "ticket_id": ticket_id,
        "outcome": "updated",
        "events": [AlertResolved.type],
        "reason": None,
    }
    assert again.json()["results"][0]["events"] == ["lts.intake.alert_occurrence_recorded"]
    seen = await consume_until(kafka, service.events_topic, lambda s: len(s) >= 3)
    assert types(seen) == [TicketOpened.type, AlertResolved.type, AlertOccurrenceRecorded.type]
    assert seen[2].data["occurrence"] == 2
    view = await service.ticket(ticket_id)
    assert view["state"] == "open"
    assert view["occurrences"] == 2


@pytest.mark.parametrize(
    ("path", "fixture"),
    [
        ("/webhooks/alertmanager", "alertmanager_firing.json"),
        ("/webhooks/grafana", "grafana_firing.json"),
    ],
)
async def test_an_alert_webhook_with_a_wrong_token_is_refused_and_nothing_is_stored(
    service: Running, path: str, fixture: str
) -> None:
    response = await service.client.post(path, json=fixture_json(fixture), headers=bearer("wrong"))
    unreadable = await service.client.post(path, content=b"{not json", headers=bearer("wrong"))

    assert response.status_code == 401
    assert unreadable.status_code == 401  # refused before its body is read
    assert await service.recorded() == []


async def test_an_alert_webhook_token_in_the_query_string_serves_senders_without_headers(
    service: Running,
) -> None:
    payload = fixture_json("alertmanager_firing.json")

    wrong = await service.client.post(
        "/webhooks/alertmanager", json=payload, params={"token": "wrong"}
    )
    header_wins = await service.client.post(
        "/webhooks/alertmanager",
        json=payload,
        params={"token": ALERT_TOKEN},
        headers=bearer("wrong"),
    )
    recorded_before = await service.recorded()
    right = await service.client.post(
        "/webhooks/alertmanager", json=payload, params={"token": ALERT_TOKEN}
    )

    assert (wrong.status_code, header_wins.status_code) == (401, 401)
    assert recorded_before == []
    assert right.status_code == 200, right.text
    assert [r["outcome"] for r in right.json()["results"]] == ["opened", "opened"]


async def test_an_osv_yaml_record_and_an_aliased_json_record_make_one_ticket(
    service: Running, kafka: str
) -> None:
    feed = {**bearer("dev-automation"), "Content-Type": "application/yaml"}
    ghsa = {
        "schema_version": "1.6.0",
        "id": "GHSA-g3rq-g295-4j3m",
        "modified": "2024-09-30T00:00:00Z",
        "aliases": ["CVE-2020-28493", "PYSEC-2021-66"],
        "summary": "ReDoS in Jinja2",
    }

    first = await service.client.post(
        "/feeds/osv", content=fixture_bytes("PYSEC-2021-66.yaml"), headers=feed
    )
    second = await service.client.post("/feeds/osv", json=[ghsa], headers=bearer("dev-automation"))

    [opened] = first.json()["results"]
    [linked] = second.json()["results"]
    assert opened["outcome"] == "opened"
    assert linked == {
        "ticket_id": opened["ticket_id"],
        "outcome": "updated",
        "events": [DuplicateLinked.type],
        "reason": None,
    }
    seen = await consume_until(
        kafka, service.events_topic, lambda s: DuplicateLinked.type in types(s)
    )
    assert seen[0].data["affected_lts_lines"] == ["release-lts/v1.4", "release-lts/v1.3"]
    assert seen[-1].data["alias_matched"] in {
        "CVE-2020-28493",
        "PYSEC-2021-66",
        "GHSA-G3RQ-G295-4J3M",
    }
    view = await service.ticket(opened["ticket_id"])
    assert "GHSA-g3rq-g295-4j3m" in view["advisory_ids"]


async def test_an_osv_record_that_fails_validation_gets_a_field_level_422(service: Running) -> None:
    response = await service.client.post(
        "/feeds/osv",
        json={"id": "PYSEC-1", "modified": "not a date"},
        headers=bearer("dev-automation"),
    )

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", 0, "modified"]


async def test_a_signed_github_issue_opens_a_ticket_once_even_when_redelivered(
    service: Running, kafka: str
) -> None:
    body = fixture_bytes("github_issues_opened.json")
    headers = github_headers(body, event="issues", delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")

    first = await service.client.post("/webhooks/github", content=body, headers=headers)
    second = await service.client.post("/webhooks/github", content=body, headers=headers)

    assert first.json()["results"][0]["outcome"] == "opened"
    assert second.json()["results"][0]["outcome"] == "duplicate_delivery"
    assert [e.type for e in await service.recorded()] == [TicketOpened.type]
    seen = await consume_until(kafka, service.events_topic, lambda s: len(s) >= 1)
    assert seen[0].data["external_ref"] == "https://github.com/Codertocat/Hello-World/issues/1"
    assert seen[0].data["reporter"] == "Codertocat"
    assert seen[0].actorid == "github:Codertocat"


async def test_a_github_webhook_with_a_bad_signature_is_refused_and_nothing_is_stored(
    service: Running,
) -> None:
    body = fixture_bytes("github_issues_opened.json")
    headers = github_headers(body, event="issues", delivery="d-1", secret="not-the-secret")

    response = await service.client.post("/webhooks/github", content=body, headers=headers)

    assert response.status_code == 401
    assert await service.recorded() == []


async def test_an_unsigned_github_request_is_refused_before_its_body_is_looked_at(
    service: Running,
) -> None:
    response = await service.client.post(
        "/webhooks/github", content=b"[not an object", headers={"X-GitHub-Event": "issues"}
    )

    assert response.status_code == 401


async def test_a_withdrawn_github_advisory_annotates_the_ticket_opened_from_its_publication(
    service: Running, kafka: str
) -> None:
    published = fixture_json("github_security_advisory_withdrawn.json")
    published["action"] = "published"
    published["security_advisory"]["withdrawn_at"] = None
    first_body = json.dumps(published).encode()
    withdrawn_body = fixture_bytes("github_security_advisory_withdrawn.json")

    first = await service.client.post(
        "/webhooks/github",
        content=first_body,
        headers=github_headers(first_body, event="security_advisory", delivery="a-1"),
    )
    second = await service.client.post(
        "/webhooks/github",
        content=withdrawn_body,
        headers=github_headers(withdrawn_body, event="security_advisory", delivery="a-2"),
    )

    assert first.json()["results"][0]["outcome"] == "opened"
    assert second.json()["results"][0]["events"] == [AdvisoryWithdrawn.type]
    seen = await consume_until(
        kafka, service.events_topic, lambda s: AdvisoryWithdrawn.type in types(s)
    )
    assert seen[0].data["severity_guess"] == "critical"
    assert seen[-1].data["advisory_id"] == "GHSA-8v27-2fg9-7h62"
    assert (await service.ticket(first.json()["results"][0]["ticket_id"]))["state"] == "withdrawn"


async def test_a_withdrawn_advisory_never_seen_before_opens_nothing(service: Running) -> None:
    body = fixture_bytes("github_security_advisory_withdrawn.json")

    response = await service.client.post(
        "/webhooks/github",
        content=body,
        headers=github_headers(body, event="security_advisory", delivery="w-1"),
    )

    assert response.json()["results"] == [
        {
            "ticket_id": None,
            "outcome": "ignored",
            "events": [],
            "reason": "GHSA-8v27-2fg9-7h62 is withdrawn and no ticket knows it or its aliases "
            "(a withdrawn advisory opens none)",
        }
    ]
    assert await service.recorded() == []


async def test_a_gitlab_issue_hook_with_its_token_opens_a_ticket(
    service: Running, kafka: str
) -> None:
    payload = fixture_json("gitlab_issue_hook_opened.json")
    headers = {
        "X-Gitlab-Token": GITLAB_TOKEN,
        "X-Gitlab-Event": "Issue Hook",
        "X-Gitlab-Event-UUID": "e-1",
    }

    response = await service.client.post("/webhooks/gitlab", json=payload, headers=headers)
    refused = await service.client.post(
        "/webhooks/gitlab", json=payload, headers={**headers, "X-Gitlab-Token": "x"}
    )

    assert response.json()["results"][0]["outcome"] == "opened"
    assert refused.status_code == 401
    seen = await consume_until(kafka, service.events_topic, lambda s: len(s) >= 1)
    assert seen[0].data["source"] == "gitlab"
    assert seen[0].data["reporter"] == "adambirds"


async def test_a_gitlab_hook_retried_with_its_idempotency_key_is_answered_again_and_stored_once(
    service: Running,
) -> None:
    payload = fixture_json("gitlab_issue_hook_opened.json")
    headers = {  # GitLab keeps the Idempotency-Key of a delivery across its retries
        "X-Gitlab-Token": GITLAB_TOKEN,
        "X-Gitlab-Event": "Issue Hook",
        "Idempotency-Key": "908a6d9e-45fd-46c8-97e6-c4f350f219dd",
    }
    first = await service.client.post("/webhooks/gitlab", json=payload, headers=headers)

    retried = await service.client.post("/webhooks/gitlab", json=payload, headers=headers)
    another = await service.client.post(
        "/webhooks/gitlab",
        json=payload,
        headers={**headers, "Idempotency-Key": "1f0c2b4e-5d6a-4b7c-8d9e-0a1b2c3d4e5f"},
    )

    assert first.json()["results"][0]["outcome"] == "opened"
    assert retried.json() == first.json()  # the first answer again, carried out once
    assert retried.headers["idempotent-replayed"] == "true"
    assert another.json()["results"][0]["outcome"] == "unchanged"  # the same issue, sent again
    assert [e.type for e in await service.recorded()] == [TicketOpened.type]


async def test_a_report_takes_reporter_and_contact_from_the_caller(
    service: Running, kafka: str
) -> None:
    report = {
        "title": "Order export crashes after upgrading to 1.4.2",
        "description": "Worked in 1.3.9. Export now fails for every order.",
        "traceback": (
            "Traceback (most recent call last):\n"
            '  File "/srv/app/src/shop/export.py", line 9, in run\n'
            "    rows = dump(orders)\n"
            "KeyError: 'sku'\n"
        ),
        "affected_versions": ["1.4.2"],
        "severity": "high",
        "package_versions": "shop==1.4.2\nsqlalchemy==2.0.36",
    }

    response = await service.client.post("/reports", json=report, headers=bearer("dev-requester"))

    assert response.status_code == 201, response.text
    seen = await consume_until(kafka, service.events_topic, lambda s: len(s) >= 2)
    opened, enriched = seen[0].data, seen[1].data
    assert opened["reporter"] == "dev-requester"
    assert opened["contact"] == "dev-requester"
    assert opened["affected_lts_lines"] == ["release-lts/v1.4"]
    assert {"crash", "regression"} <= set(opened["labels"])
    assert enriched["traceback"]["exception_type"] == "KeyError"
    assert enriched["traceback"]["top_project_module"] == "shop.export"


async def test_a_report_retried_with_the_same_idempotency_key_is_stored_once(
    service: Running,
) -> None:
    report = {"title": "Login page times out", "description": "Since this morning."}
    headers = {**bearer("dev-requester"), "Idempotency-Key": "form-42"}

    first = await service.client.post("/reports", json=report, headers=headers)
    retry = await service.client.post("/reports", json=report, headers=headers)

    assert first.status_code == 201
    assert retry.status_code == 201  # the first answer again (Idempotency-Key), carried out once
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["ticket_id"] == first.json()["ticket_id"]
    assert [e.type for e in await service.recorded()] == [TicketOpened.type]


async def test_a_report_declaring_a_known_cve_is_linked_to_the_advisory_ticket(
    service: Running,
) -> None:
    feed = {**bearer("dev-automation"), "Content-Type": "application/yaml"}
    advisory = await service.client.post(
        "/feeds/osv", content=fixture_bytes("PYSEC-2021-66.yaml"), headers=feed
    )
    report = {
        "title": "ReDoS in urlize",
        "description": "Seen in production.",
        "cve_ids": ["CVE-2020-28493"],
    }

    response = await service.client.post("/reports", json=report, headers=bearer("dev-requester"))

    assert response.status_code == 200
    assert response.json()["ticket_id"] == advisory.json()["results"][0]["ticket_id"]
    assert response.json()["events"] == [DuplicateLinked.type]


async def test_a_report_mentioning_a_cve_opens_its_own_ticket_not_a_duplicate(
    service: Running,
) -> None:
    feed = {**bearer("dev-automation"), "Content-Type": "application/yaml"}
    advisory = await service.client.post(
        "/feeds/osv", content=fixture_bytes("PYSEC-0000-CVE-2024-45230.yaml"), headers=feed
    )
    report = {
        "title": "1.4.3 regressed after the CVE-2024-45230 fix",
        "description": "urlize() drops trailing punctuation since the upgrade.",
    }

    response = await service.client.post("/reports", json=report, headers=bearer("dev-requester"))

    assert response.status_code == 201, response.text
    assert response.json()["outcome"] == "opened"
    assert response.json()["ticket_id"] != advisory.json()["results"][0]["ticket_id"]
    [opened] = [
        r.event
        for r in await service.recorded()
        if isinstance(r.event, TicketOpened) and r.event.ticket_id == response.json()["ticket_id"]
    ]
    assert opened.cve_ids == []
    assert "https://www.cve.org/CVERecord?id=CVE-2024-45230" in opened.links


async def test_a_report_without_a_title_gets_a_field_level_422(service: Running) -> None:
    response = await service.client.post(
        "/reports", json={"description": "x"}, headers=bearer("dev-requester")
    )

    assert response.status_code == 422
    assert ["body", "title"] in [e["loc"] for e in response.json()["errors"]]


async def test_a_report_without_a_token_is_refused(service: Running) -> None:
    response = await service.client.post("/reports", json={"title": "abc", "description": "x"})

    assert response.status_code == 401


async def test_a_body_above_the_configured_size_is_refused_with_413(service: Running) -> None:
    huge = {"title": "big", "description": "x" * 300_000}

    response = await service.client.post("/reports", json=huge, headers=bearer("dev-requester"))

    assert response.status_code == 413
    assert await service.recorded() == []


@pytest.mark.parametrize("path", ["/webhooks/alertmanager", "/webhooks/grafana"])
async def test_an_alert_webhook_body_above_the_size_limit_is_refused_with_413_unparsed(
    service: Running, path: str
) -> None:
    response = await service.client.post(
        path, content=b"{" + b" " * 300_000, headers=bearer(ALERT_TOKEN)
    )

    assert response.status_code == 413, response.text
    assert await service.recorded() == []


async def test_concurrent_reports_get_distinct_sequential_ids_and_one_alert_one_ticket(
    service: Running,
) -> None:
    reports = [
        service.client.post(
            "/reports",
            json={"title": f"bug {i}", "description": "d"},
            headers=bearer("dev-requester"),
        )
        for i in range(12)
    ]
    alert = fixture_json("alertmanager_firing.json")
    alerts = [
        service.client.post("/webhooks/alertmanager", json=alert, headers=bearer(ALERT_TOKEN))
        for _ in range(8)
    ]

    responses = await asyncio.gather(*reports, *alerts)

    assert all(r.status_code in {200, 201} for r in responses), [r.text for r in responses]
    report_ids = sorted(r.json()["ticket_id"] for r in responses[:12])
    alert_ids = {res["ticket_id"] for r in responses[12:] for res in r.json()["results"]}
    assert len(alert_ids) == 2
    assert sorted([*report_ids, *alert_ids]) == list(range(1, 15))
    opened = [e for e in await service.recorded() if e.type == TicketOpened.type]
    assert len(opened) == 14


async def test_tickets_can_be_queried_by_label_state_and_source(service: Running) -> None:
    await service.client.post(
        "/feeds/osv",
        content=fixture_bytes("PYSEC-2021-66.yaml"),
        headers={**bearer("dev-automation"), "Content-Type": "application/yaml"},
    )
    await service.client.post(
        "/webhooks/alertmanager",
        json=fixture_json("alertmanager_firing.json"),
        headers=bearer(ALERT_TOKEN),
    )

    cves = await service.client.get(
        "/tickets", params={"label": "cve"}, headers=bearer("dev-analyst")
    )
    alerts = await service.client.get(
        "/tickets",
        params={"source": "alertmanager", "state": "open"},
        headers=bearer("dev-analyst"),
    )

    assert [t["source"] for t in cves.json()["tickets"]] == ["osv"]
    assert len(alerts.json()["tickets"]) == 2
