"""The line's index of its candidates and backports (stream `line-{line}`), kept from
`CandidateOpened` and `BackportOpened` as they come back on the service's own topic: exactly once
each (the append records the message), whatever crashed between opening and listing."""

from __future__ import annotations

from lts_events.consumer import Inbound
from lts_events.contracts.release.backports import BackportOpened
from lts_events.contracts.release.candidates import (
    BackportListed,
    CandidateListed,
    CandidateOpened,
    line_stream,
)
from lts_events.store.port import ANY, EventStore

from lts_release.appending import Outcome, append, origin_of


class LineIndex:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def on_candidate_opened(self, inbound: Inbound[CandidateOpened]) -> None:
        opened = inbound.event
        listed = CandidateListed(
            line=opened.line,
            candidate_id=opened.candidate_id,
            version=opened.version,
            rc=opened.rc,
            opened_at=opened.opened_at,
        )
        await append(
            self.store,
            line_stream(opened.line),
            [Outcome(listed, reason=f"candidate {opened.candidate_id} opened")],
            version=ANY,
            origin=origin_of(inbound),
        )

    async def on_backport_opened(self, inbound: Inbound[BackportOpened]) -> None:
        opened = inbound.event
        listed = BackportListed(
            line=opened.line, ticket_id=opened.ticket_id, opened_at=opened.approved_at
        )
        await append(
            self.store,
            line_stream(opened.line),
            [Outcome(listed, reason=f"backport of ticket {opened.ticket_id} opened")],
            version=ANY,
            origin=origin_of(inbound),
        )
