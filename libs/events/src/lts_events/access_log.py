"""Secrets never reach the logs through a URL: uvicorn's access log writes each request's path
with its query string, and a client that put `?token=...` (or a presigned `signature=`) there
would leave the secret in every log store downstream. The value of any query parameter whose
name looks sensitive is replaced before the record is formatted."""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

REDACTED = "REDACTED"
# Substrings of a parameter's name (lower-cased, percent-decoded) that mark its value secret.
# Over-matching costs a redacted harmless value; under-matching leaks a secret.
SENSITIVE_NAME_PARTS = (
    "token",
    "secret",
    "signature",
    "sig",
    "key",
    "password",
    "passwd",
    "auth",
    "credential",
    "session",
    "code",
)


def is_sensitive(name: str) -> bool:
    lowered = unquote_plus(name).lower()
    return any(part in lowered for part in SENSITIVE_NAME_PARTS)


def redact_query(target: str) -> str:
    """`target` (a path with its query string) with the values of sensitive parameters
    replaced; a target without a query string is returned as it is."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    pairs = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if equals and is_sensitive(name) else pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactQueryFilter(logging.Filter):
    """For the `uvicorn.access` logger, whose records carry
    (client, method, path with query, http version, status) as their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def redact_access_log(logger_name: str = "uvicorn.access") -> None:
    """Install the filter on uvicorn's access logger, once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, RedactQueryFilter) for existing in logger.filters):
        logger.addFilter(RedactQueryFilter())
