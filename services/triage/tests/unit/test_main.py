"""The composition root: what the service does once started."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any, cast

import pytest
from lts_events.service import ServiceContext
from lts_triage.main import SPEC


@pytest.fixture
def nothing_frozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("nothing_frozen")
def test_objects_made_before_the_start_are_out_of_the_collectors_reach() -> None:
    made_at_start_up: dict[str, Any] = {"cycle": []}
    made_at_start_up["cycle"].append(made_at_start_up)
    assert SPEC.on_start is not None

    asyncio.run(SPEC.on_start(cast("ServiceContext", None)))

    assert not any(tracked is made_at_start_up for tracked in gc.get_objects())
    assert gc.get_freeze_count() > 0
