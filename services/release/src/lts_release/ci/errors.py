"""The one error every CI parser raises: which field of the input is wrong, and why."""

from __future__ import annotations

from collections.abc import Sequence

from lts_events.problems import dotted
from pydantic import ValidationError


class BadInput(ValueError):
    """Input that can never be recorded. `field` is a dotted path into what the producer sent
    (`workflow_run.head_sha`, `testsuite.2.testcase`, `runs.0.results.3.level`: the format of
    every service's validation errors), `(root)` for the document as a whole; the HTTP API
    answers it as a 422 problem naming the field, the Kafka consumer dead-letters it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def from_validation(error: ValidationError, *, prefix: Sequence[str | int] = ()) -> BadInput:
    """The first problem pydantic found, as a `BadInput` naming its field."""
    first = error.errors(include_url=False, include_context=False, include_input=False)[0]
    return BadInput(dotted([*prefix, *first["loc"]]) or "(root)", first["msg"])
