"""A backport's version as its ETag on real Kafka and PostgreSQL: the GET sends it and answers
304 to an If-None-Match naming it; a command whose If-Match names another version is 412,
recorded as a refusal and nothing else; a writer appending between the read and the append
makes the command 412, never a silent success."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from lts_events.actors import Actor, Role
from lts_events.clock import system_clock
from lts_events.contracts.release.backports import QaExceptionApproved, backport_stream
from lts_events.envelope import Metadata, NewEvent
from lts_events.http_versions import PreconditionFailed, parse_tags
from lts_events.store.port import EventStore, StreamHistory
from lts_release.backports.domain import ApproveQaException
from lts_release.backports.handlers import BackportHandlers
from lts_release.backports.policy import BackportPolicy

from .conftest import Running
from .release_flows import backport, bearer
from .triage_feed import approved_plan, publish

pytestmark = pytest.mark.integration

LEAD = bearer("dev-engineering_lead")
EXCEPTION = {"reason": "QA lab down; covered by the regression suite"}


async def opened(service: Running, kafka: str, ticket_id: int) -> str:
    """An open backport on line 1.4; its ETag."""
    at = datetime.now(UTC)
    await publish(kafka, service.triage_topic, approved_plan(ticket_id, at), at=at)
    await backport(service, ticket_id, "1.4", until=lambda v: v["status"] == "open")
    answer = await service.client.get(f"/backports/{ticket_id}/1.4", headers=LEAD)
    return answer.headers["ETag"]


async def stored_types(service: Running, ticket_id: int) -> list[str]:
    history = await service.store.read_stream(backport_stream(ticket_id, "1.4"))
    return [r.type.removeprefix("lts.release.") for r in history.events]


async def test_a_backport_is_sent_with_its_version_and_304_when_unchanged(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service = release_service
    tag = await opened(service, kafka, ticket_id)

    again = await service.client.get(
        f"/backports/{ticket_id}/1.4", headers={**LEAD, "If-None-Match": tag}
    )
    changed = await service.client.get(
        f"/backports/{ticket_id}/1.4", headers={**LEAD, "If-None-Match": '"0"'}
    )

    assert tag == '"1"'
    assert (again.status_code, again.headers["ETag"], again.content) == (304, tag, b"")
    assert (changed.status_code, changed.headers["ETag"]) == (200, tag)


async def test_a_command_on_a_stale_version_is_412_and_recorded_as_a_refusal_only(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service = release_service
    tag = await opened(service, kafka, ticket_id)

    stale = await service.client.post(
        f"/backports/{ticket_id}/1.4/qa-exception",
        json=EXCEPTION,
        headers={**LEAD, "If-Match": '"0"'},
    )
    current = await service.client.post(
        f"/backports/{ticket_id}/1.4/qa-exception",
        json=EXCEPTION,
        headers={**LEAD, "If-Match": tag},
    )

    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.headers["ETag"] == tag
    assert stale.json()["etag"] == tag
    # the recorded refusal changed no read model: the same ETag still holds
    assert current.status_code == 201
    assert current.headers["ETag"] == '"3"'
    assert await stored_types(service, ticket_id) == [
        "backport_opened",
        "backport_request_refused",
        "qa_exception_approved",
    ]


async def test_of_two_commands_naming_the_same_version_one_wins_the_other_is_412(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service = release_service
    tag = await opened(service, kafka, ticket_id)

    answers = await asyncio.gather(
        *(
            service.client.post(
                f"/backports/{ticket_id}/1.4/qa-exception",
                json=EXCEPTION,
                headers={**LEAD, "If-Match": tag},
            )
            for _ in range(2)
        )
    )

    assert sorted(a.status_code for a in answers) == [201, 412]


class RacedStore:
    """The real store, with another writer appending to the backport right after the shell's
    first read: the interleaving a compare-then-append check lets through."""

    def __init__(self, store: EventStore, ticket_id: int) -> None:
        self._store = store
        self._ticket_id = ticket_id
        self._raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def read_streams(self, stream_ids: Sequence[str]) -> Mapping[str, StreamHistory]:
        loaded = await self._store.read_streams(stream_ids)
        if not self._raced:
            self._raced = True
            stream = backport_stream(self._ticket_id, "1.4")
            other = QaExceptionApproved(
                ticket_id=self._ticket_id,
                line="1.4",
                approved_by="another-lead",
                reason="the other writer",
                approved_at=datetime.now(UTC),
            )
            metadata = Metadata.trusted(actor=Actor(id="another-lead", role=Role.ENGINEERING_LEAD))
            version = loaded[stream].version
            await self._store.append(
                stream, [NewEvent.of(other, metadata)], expected_version=version
            )
        return loaded


async def test_a_writer_appending_between_read_and_append_makes_the_command_412(
    release_service: Running, kafka: str, ticket_id: int
) -> None:
    service = release_service
    tag = await opened(service, kafka, ticket_id)
    raced = RacedStore(service.store, ticket_id)
    handlers = BackportHandlers(
        raced,  # type: ignore[arg-type]  (the real store, behind a racing writer)
        policy=BackportPolicy(),
        clock=system_clock,
        consumer=service.name,
    )
    command = ApproveQaException(
        actor_id="lead", held_roles=frozenset({Role.ENGINEERING_LEAD}), reason="QA lab down"
    )

    with pytest.raises(PreconditionFailed) as refused:
        await handlers.execute((ticket_id, "1.4"), command, if_match=parse_tags(tag))

    assert refused.value.current == 2
    assert await stored_types(service, ticket_id) == [
        "backport_opened",
        "qa_exception_approved",
        "backport_request_refused",
    ]
