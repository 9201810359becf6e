"""`ticket_id_of` is the inverse of `ticket_stream`, and says None for any other stream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lts_events.contracts.common import ticket_id_of, ticket_stream


@given(st.integers(min_value=0, max_value=10**12))
def test_the_ticket_of_a_tickets_stream_is_that_ticket(ticket_id: int) -> None:
    assert ticket_id_of(ticket_stream(ticket_id)) == ticket_id


@pytest.mark.parametrize(
    "stream", [None, "", "ticket-", "ticket-12a", "ticket--3", "candidate-7", "triage:ticket-4"]
)
def test_any_other_stream_has_no_ticket(stream: str | None) -> None:
    assert ticket_id_of(stream) is None
