"""Intake keeps SQL tables next to its events (claims, ticket views) written in the transaction
of its appends: its `build(context)` refuses a context without the PostgreSQL store, saying
why, rather than failing at the first request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lts_devtools.in_memory_service import in_memory_context
from lts_events.clock import FrozenClock
from lts_intake.main import build


def test_the_built_service_refuses_the_in_memory_store() -> None:
    context, _ = in_memory_context("intake", clock=FrozenClock(datetime(2026, 11, 18, tzinfo=UTC)))

    with pytest.raises(RuntimeError, match="runs on the PostgreSQL store only"):
        build(context)
