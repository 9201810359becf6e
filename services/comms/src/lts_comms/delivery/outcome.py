"""What a channel answered, as the outbox decides on it: accepted, or failed transiently (try
again later) or permanently (give up now). Whose fault a raised error is comes from the shared
classification (`lts_events.faults.is_transient`); the channels add their protocols' own
codes (HTTP statuses, SMTP reply codes)."""

from __future__ import annotations

from dataclasses import dataclass

from lts_events.faults import describe, is_transient


@dataclass(frozen=True, slots=True)
class Accepted:
    response: str
    """The SMTP reply or the HTTP status line, for the record."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    transient: bool


SendResult = Accepted | Rejected

# HTTP statuses worth another try: the receiver is overloaded, down or timed out.
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})


def http_result(status: int, body: str) -> SendResult:
    """A webhook's answer: 2xx accepted; TRANSIENT_HTTP retried; any other status given up."""
    if 200 <= status < 300:
        return Accepted(f"HTTP {status}")
    reason = f"HTTP {status}: {body.strip()[:200]}" if body.strip() else f"HTTP {status}"
    return Rejected(reason, transient=status in TRANSIENT_HTTP)


def smtp_reply_result(code: int, message: str) -> Rejected:
    """An SMTP refusal: 4yz is a transient negative reply (RFC 5321 4.2.1), 5yz permanent."""
    return Rejected(f"SMTP {code}: {message.strip()[:200]}", transient=400 <= code < 500)


def error_result(error: BaseException) -> Rejected:
    """A raised error: transient when the shared classification says so (connection refused,
    reset, timed out), else permanent."""
    return Rejected(describe(error), transient=is_transient(error))
