"""Structured JSON logs: one object per line, with the service name and the active trace ids."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable

from pythonjsonlogger.json import JsonFormatter

from lts_events.access_log import redact_access_log
from lts_events.faults import describe, is_transient
from lts_events.settings import CommonSettings
from lts_events.telemetry import trace_ids


class TraceContextFilter(logging.Filter):
    """Stamps every record with the service name and the current trace/span id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id, span_id = trace_ids()
        record.service = self._service
        record.trace_id = trace_id
        record.span_id = span_id
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate
        return True


class RepeatFilter(logging.Filter):
    """Rate-limits the warnings and errors of libraries (not ours: `lts*` loggers are let
    through), and drops the traceback of a transient error (`faults`). The first record of
    each (logger, level, message template) passes, repeats within `window` seconds are counted,
    not written; the next one after the window passes with `suppressed_repeats`. A broker
    outage made aiokafka write ~500 ERROR lines a second."""

    def __init__(self, window: float = 30.0, *, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._window = window
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.name.startswith("lts"):
            return True
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_transient(error):
            # An expected outage (asyncpg's pool, aiokafka's reconnects): one line, no traceback.
            record.error = describe(error)
            record.exc_info, record.exc_text = None, None
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            record.suppressed_repeats = last[1]
        self._seen[key] = (now, 0)
        if len(self._seen) > 10_000:  # templates with values baked in: forget the oldest
            self._seen.pop(next(iter(self._seen)))
        return True


# Libraries whose INFO lines (group joins, connection chatter, each migration step, uvicorn's
# start-up banner) drown the services' own; uvicorn's access log is kept.
QUIET_LIBRARIES = (
    "aiokafka",
    "kafka",
    "faststream",
    "asyncio",
    "httpx",
    "alembic",
    "uvicorn.error",
)


class LibraryInfoFilter(logging.Filter):
    """Drops the INFO lines that a quiet library's code writes through a logger of ours:
    FastStream logs "Received" and "Processed" for every message through the broker's logger,
    which the host names after the service (`lts.<service>.faststream`), so the library's
    logger level does not reach them. The service's broker writes those at DEBUG
    (`service.build_broker`); this filter keeps out the library's lines that name INFO
    themselves, and any other host's broker. Whose code wrote a line is in its `pathname`."""

    def __init__(self, libraries: Iterable[str] = QUIET_LIBRARIES) -> None:
        super().__init__()
        self._code = tuple(directory for name in libraries for directory in _package_dirs(name))

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.pathname.startswith(self._code)


def _package_dirs(name: str) -> list[str]:
    """Where package `name`'s code is (none for a name that is a logger, not a package)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    locations = spec.submodule_search_locations if spec is not None else None
    return [os.path.join(location, "") for location in locations or ()]


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "{levelname}{name}{message}{service}{trace_id}{span_id}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def setup_logging(service: str, *, level: str | None = None) -> None:
    """Route the root logger (and uvicorn's) to one JSON handler on stderr. Idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(TraceContextFilter(service))
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_lts_json", False):
            root.removeHandler(existing)
    handler._lts_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    chosen = level or CommonSettings().log_level
    root.setLevel(chosen)
    if logging.getLevelName(chosen.upper()) != logging.DEBUG:
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
        handler.addFilter(LibraryInfoFilter())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    # An earlier uvicorn.Config(log_level="warning") in the process left its level on the
    # access logger: the access log follows the root's level again.
    logging.getLogger("uvicorn.access").setLevel(logging.NOTSET)
    redact_access_log()
