"""A service's log shows its own INFO lines, not the libraries' chatter: aiokafka's group
coordinator writes a few INFO lines per join, which drowned `make dev`'s output. Libraries speak
from WARNING up unless the service logs at DEBUG."""

from __future__ import annotations

import importlib.util
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


@pytest.mark.parametrize(
    ("logger", "chatter"),
    [
        (GROUP_COORDINATOR, "Joined group 'triage' (generation 1)"),
        ("alembic.runtime.migration", "Running upgrade 0001 -> 0002"),
        ("uvicorn.error", "Uvicorn running on http://127.0.0.1:8002"),
    ],
)
def test_a_librarys_info_lines_are_left_out_and_the_services_kept(
    capsys: pytest.CaptureFixture[str], logger: str, chatter: str
) -> None:
    setup_logging("log-levels-test", level="INFO")

    logging.getLogger(logger).info(chatter)
    logging.getLogger(logger).warning("something went wrong")
    logging.getLogger("lts_triage.handlers").info("ticket 7 triaged")
    logging.getLogger("uvicorn.access").info('"GET /tickets/7 HTTP/1.1" 200')

    written = capsys.readouterr().err
    assert chatter not in written
    assert "something went wrong" in written
    assert "ticket 7 triaged" in written
    assert "GET /tickets/7" in written  # the access log is the service's record of requests


def test_at_debug_the_libraries_speak_too(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("log-levels-test", level="DEBUG")

    logging.getLogger(GROUP_COORDINATOR).info("Joined group 'triage' (generation 1)")

    assert "Joined group" in capsys.readouterr().err


def _written_by(package: str, logger: str, level: int, message: str) -> logging.LogRecord:
    """A record as `package`'s own code logs it through `logger`."""
    spec = importlib.util.find_spec(package)
    assert spec is not None
    assert spec.origin is not None
    return logging.getLogger(logger).makeRecord(logger, level, spec.origin, 1, message, None, None)


def test_a_librarys_info_lines_through_a_logger_of_ours_are_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """FastStream logs every message it handles through the broker's logger, which the host
    names after the service."""
    setup_logging("log-levels-test", level="INFO")
    broker_logger = logging.getLogger("lts.triage.faststream")

    broker_logger.handle(_written_by("faststream", broker_logger.name, logging.INFO, "Received"))
    broker_logger.handle(_written_by("faststream", broker_logger.name, logging.ERROR, "Boom"))
    broker_logger.info("the service's own line on that logger")

    written = capsys.readouterr().err
    assert "Received" not in written
    assert "Boom" in written
    assert "the service's own line on that logger" in written
