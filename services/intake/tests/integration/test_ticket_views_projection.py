"""The ticket views follow the store through the service's projection runner: a ticket whose
events were appended without the request path's view update (a crash between the two, another
writer) still shows up in GET /tickets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lts_events.actors import Actor, Role
from lts_events.contracts.common import Severity, TicketSource, ticket_stream
from lts_events.contracts.intake import TicketKind, TicketLabelled, TicketOpened
from lts_events.envelope import Metadata, NewEvent
from lts_events.store.port import NO_STREAM

from .conftest import Running, bearer, eventually

pytestmark = pytest.mark.integration


async def test_a_ticket_appended_behind_the_request_paths_back_is_projected(
    service: Running,
) -> None:
    opened = TicketOpened(
        ticket_id=4242,
        title="Session fixation in login",
        description="An attacker who can set a cookie can take over the session.",
        source=TicketSource.REPORT,
        kind=TicketKind.SECURITY,
        severity_guess=Severity.HIGH,
        opened_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
    )
    meta = Metadata(actor=Actor(id="carol", role=Role.REQUESTER))

    await service.store.append(
        ticket_stream(4242), [NewEvent.of(opened, meta)], expected_version=NO_STREAM
    )

    async def shown() -> bool:
        response = await service.client.get("/tickets/4242", headers=bearer("dev-analyst"))
        return response.status_code == 200 and response.json()["title"] == opened.title

    await eventually(shown)


async def test_a_ticket_is_sent_with_its_version_and_304_until_it_changes(
    service: Running,
) -> None:
    opened = TicketOpened(
        ticket_id=4343,
        title="Login times out",
        description="Logins time out after the upgrade.",
        source=TicketSource.REPORT,
        kind=TicketKind.BUG,
        opened_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
    )
    meta = Metadata(actor=Actor(id="carol", role=Role.REQUESTER))
    stream, analyst = ticket_stream(4343), bearer("dev-analyst")
    await service.store.append(stream, [NewEvent.of(opened, meta)], expected_version=NO_STREAM)

    async def version(tag: str) -> bool:
        response = await service.client.get("/tickets/4343", headers=analyst)
        return response.status_code == 200 and response.headers["ETag"] == tag

    await eventually(lambda: version('"1"'))
    unchanged = await service.client.get(
        "/tickets/4343", headers={**analyst, "If-None-Match": '"1"'}
    )
    labelled = TicketLabelled(ticket_id=4343, labels=["regression"], reason="triage asked")
    await service.store.append(stream, [NewEvent.of(labelled, meta)], expected_version=1)
    await eventually(lambda: version('"2"'))
    changed = await service.client.get("/tickets/4343", headers={**analyst, "If-None-Match": '"1"'})

    assert (unchanged.status_code, unchanged.headers["ETag"], unchanged.content) == (
        304,
        '"1"',
        b"",
    )
    assert (changed.status_code, changed.headers["ETag"]) == (200, '"2"')
    assert changed.json()["labels"] == ["regression"]
