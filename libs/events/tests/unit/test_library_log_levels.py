"""A service's log shows its own INFO lines, not the libraries' chatter: aiokafka's group
coordinator writes a few INFO lines per join, which drowned `make dev`'s output. Libraries speak
from WARNING up unless the service logs at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from lts_events.logging import QUIET_LIBRARIES, setup_logging

GROUP_COORDINATOR = "aiokafka.consumer.group_coordinator"


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """setup_logging configures the process's loggers: start from unset library levels (an
    earlier test may have set them up), put everything back as it was after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    root.handlers[:], root.level = handlers, level
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def test_a_librarys_info_lines_are_left_out_and_the_services_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("log-levels-test", level="INFO")

    logging.getLogger(GROUP_COORDINATOR).info("Joined group 'triage' (generation 1)")
    logging.getLogger(GROUP_COORDINATOR).warning("Heartbeat failed: group is rebalancing")
    logging.getLogger("lts_triage.handlers").info("ticket 7 triaged")

    written = capsys.readouterr().err
    assert "Joined group" not in written
    assert "Heartbeat failed" in written
    assert "ticket 7 triaged" in written


def test_at_debug_the_libraries_speak_too(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("log-levels-test", level="DEBUG")

    logging.getLogger(GROUP_COORDINATOR).info("Joined group 'triage' (generation 1)")

    assert "Joined group" in capsys.readouterr().err
