"""Concurrent HTTP requests executed together, as a Kafka batch is (`coalescer.py`), through the
real app, store and PostgreSQL: they share transactions, each still gets its own answer, the
same problem is one ticket, and one request's bad input or failure is its own."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest
from lts_events.contracts.intake import AlertOccurrenceRecorded, TicketOpened
from sqlalchemy import text

from .conftest import (
    ALERT_TOKEN,
    Running,
    bearer,
    fixture_bytes,
    fixture_json,
    github_headers,
)

pytestmark = pytest.mark.integration

BURST = 32


def notification(fingerprint: str, *, starts: str = "2026-12-04T10:00:00Z") -> dict[str, Any]:
    """An Alertmanager (webhook v4) notification carrying one alert."""
    payload: dict[str, Any] = fixture_json("alertmanager_firing.json")
    alert = copy.deepcopy(payload["alerts"][0])
    alert.update(fingerprint=fingerprint, startsAt=starts)
    alert["labels"]["host"] = fingerprint
    payload["alerts"] = [alert]
    return payload


async def post_all(service: Running, payloads: list[dict[str, Any]]) -> list[httpx.Response]:
    return await asyncio.gather(
        *(
            service.client.post("/webhooks/alertmanager", json=p, headers=bearer(ALERT_TOKEN))
            for p in payloads
        )
    )


async def opened_fingerprints(service: Running) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for event in await service.recorded():
        if isinstance(event.event, TicketOpened):
            fingerprint = str(event.event.alert_fingerprint)
            found.setdefault(fingerprint, []).append(event.event.ticket_id)
    return found


async def test_concurrent_requests_share_transactions_and_each_gets_its_own_ticket(
    service: Running,
) -> None:
    fingerprints = [f"fp-own-{n:02d}" for n in range(BURST)]

    responses = await post_all(service, [notification(f) for f in fingerprints])

    assert [r.status_code for r in responses] == [200] * BURST
    answered = {
        f: r.json()["results"][0]["ticket_id"] for f, r in zip(fingerprints, responses, strict=True)
    }
    opened = await opened_fingerprints(service)
    assert answered == {f: ids[0] for f, ids in opened.items()}
    assert sorted(answered.values()) == list(range(1, BURST + 1))
    views = [await service.ticket(t) for t in answered.values()]  # stored before the answer
    assert [v["alert_fingerprint"] for v in views] == fingerprints
    transactions = {e.transaction_id for e in await service.recorded()}
    assert len(transactions) < BURST / 2, "the requests were not executed together"


async def test_concurrent_requests_for_the_same_alert_end_in_one_ticket(service: Running) -> None:
    starts = [f"2026-12-04T10:{minute:02d}:00Z" for minute in range(BURST)]

    responses = await post_all(service, [notification("fp-storm", starts=s) for s in starts])

    assert [r.status_code for r in responses] == [200] * BURST
    results = [r.json()["results"][0] for r in responses]
    assert {r["ticket_id"] for r in results} == {1}
    assert [r["outcome"] for r in results].count("opened") == 1
    assert await opened_fingerprints(service) == {"fp-storm": [1]}
    recorded = await service.recorded()
    assert [e.type for e in recorded].count(AlertOccurrenceRecorded.type) == BURST - 1
    assert (await service.ticket(1))["version"] == len(recorded)  # stored before the answers


async def test_a_bad_request_in_a_burst_gets_its_422_and_the_others_their_tickets(
    service: Running,
) -> None:
    payloads = [notification(f"fp-burst-{n:02d}") for n in range(BURST)]
    del payloads[7]["alerts"][0]["startsAt"]

    responses = await post_all(service, payloads)

    bad = responses.pop(7)
    assert bad.status_code == 422, bad.text
    assert [e["loc"] for e in bad.json()["errors"]] == [["body", "alerts", 0, "startsAt"]]
    assert [r.status_code for r in responses] == [200] * (BURST - 1)
    assert sorted(r.json()["results"][0]["ticket_id"] for r in responses) == list(range(1, BURST))


async def test_a_request_failing_in_its_batch_fails_alone_and_leaves_nothing(
    service: Running,
) -> None:
    """The failure is injected by a trigger on the store's events table (no code of ours
    replaced): the batch holding the poisoned alert fails, and its other requests are then
    executed without it."""
    async with service.store.engine.begin() as connection:
        await connection.execute(
            text(
                f"""CREATE FUNCTION "{service.name}".refuse() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN RAISE EXCEPTION 'injected: append failed'; END $$"""
            )
        )
        await connection.execute(
            text(
                f"""CREATE TRIGGER refuse BEFORE INSERT ON "{service.name}".events FOR EACH ROW
                WHEN (NEW.data->>'alert_fingerprint' = 'fp-poison')
                EXECUTE FUNCTION "{service.name}".refuse()"""
            )
        )
    fingerprints = [f"fp-healthy-{n:02d}" for n in range(BURST)]
    fingerprints[BURST // 2] = "fp-poison"

    answers = await asyncio.gather(
        *(
            service.client.post(
                "/webhooks/alertmanager", json=notification(f), headers=bearer(ALERT_TOKEN)
            )
            for f in fingerprints
        ),
        return_exceptions=True,  # the in-process transport raises the app's 500 error
    )

    failed = answers.pop(BURST // 2)
    assert "injected" in str(failed)
    assert all(isinstance(a, httpx.Response) and a.status_code == 200 for a in answers), answers
    opened = await opened_fingerprints(service)
    assert sorted(opened) == sorted(f for f in fingerprints if f != "fp-poison")
    async with service.store.engine.connect() as connection:
        keys = await connection.execute(
            text(f"""SELECT key FROM "{service.name}".ticket_keys WHERE key = 'alert:fp-poison'""")
        )
        assert keys.all() == []


async def test_a_github_delivery_sent_concurrently_is_one_ticket_and_duplicates(
    service: Running,
) -> None:
    body = fixture_bytes("github_issues_opened.json")
    headers = github_headers(body, event="issues", delivery="delivery-sent-eight-times")

    responses = await asyncio.gather(
        *(service.client.post("/webhooks/github", content=body, headers=headers) for _ in range(8))
    )

    outcomes = sorted(r.json()["results"][0]["outcome"] for r in responses)
    assert outcomes == ["duplicate_delivery"] * 7 + ["opened"]
    assert {r.json()["results"][0]["ticket_id"] for r in responses} == {1}
    assert [e.type for e in await service.recorded()] == [TicketOpened.type]
