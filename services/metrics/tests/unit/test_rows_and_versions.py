"""The event-grain rows of adoption and fast-track follow-ups, and how versions name lines."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin
from uuid import uuid4

import pytest
from lts_events.contracts import metrics, triage
from lts_events.store import Checkpoint
from lts_metrics.export import flatten, to_csv
from lts_metrics.facts import AuditFact, current_shape, ticket_of, typed
from lts_metrics.row_tables import ALL as TABLES
from lts_metrics.rows import ADOPTION, FOLLOW_UPS, ROWS
from lts_metrics.versions import line_and_patch, line_of
from pydantic import BaseModel

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
M = TypeVar("M", bound=BaseModel)


def fact(type_: str, data: dict[str, object], *, subject: str | None = None) -> AuditFact:
    return AuditFact(
        event_id=uuid4(),
        type=type_,
        schema_version=1,
        source_service="triage",
        subject=subject,
        data=data,
        event=typed(type_, current_shape(type_, 1, data)),
        occurred_at=T0,
        actor_id="someone",
        actor_role="automation",
        reason=None,
        checkpoint=Checkpoint(1, 1),
        ticket_id=ticket_of(data, subject),
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.4.3", ("1.4", 3)),
        ("v1.4.12", ("1.4", 12)),
        ("v1.2.4-hotfix1", ("1.2", 4)),
        ("1.4", None),
        ("latest", None),
    ],
)
def test_a_version_names_its_line_and_patch(version: str, expected: object) -> None:
    assert line_and_patch(version) == expected


@pytest.mark.parametrize(
    ("name", "line"),
    [("release-lts/v1.4", "1.4"), ("v1.3", "1.3"), ("1.4.x", "1.4"), ("2.0.1", "2.0"), ("x", None)],
)
def test_a_branch_or_version_names_its_line(name: str, line: str | None) -> None:
    assert line_of(name) == line


def test_downloads_become_one_adoption_row_with_line_and_patch() -> None:
    counted = fact(
        metrics.DownloadsCounted.type,
        {
            "package": "ltsapp",
            "version": "1.4.3",
            "count": 70,
            "counted_at": T0.isoformat(),
            "origin": "pypi",
        },
    )

    assert ROWS.rows_of(counted) == [
        (ADOPTION.name, (counted.event_id, "download", "ltsapp", "1.4.3", "1.4", 3, 70, T0))
    ]


def test_a_ping_counts_one_running_deployment() -> None:
    ping = fact(
        metrics.TelemetryPingReceived.type,
        {"package": "ltsapp", "version": "1.3.9", "received_at": T0.isoformat()},
    )

    assert ROWS.rows_of(ping) == [
        (ADOPTION.name, (ping.event_id, "ping", "ltsapp", "1.3.9", "1.3", 9, 1, T0))
    ]


def test_a_follow_up_closed_row_names_who_closed_it() -> None:
    closed = fact(
        triage.FollowUpClosed.type,
        {
            "ticket_id": 7,
            "follow_up": "postmortem",
            "closed_by": "lee",
            "summary": "s",
            "within_deadline": True,
            "closed_at": T0.isoformat(),
        },
    )

    assert ROWS.rows_of(closed) == [
        (FOLLOW_UPS.name, (closed.event_id, 7, "postmortem", "closed", T0, None, "lee"))
    ]


def test_every_mapper_writes_rows_as_wide_as_its_table() -> None:
    widths = {t.name: len(t.columns) for t in TABLES}

    for cls in ROWS.mappers:
        written = ROWS.rows_of(fact(cls.type, example(cls).to_data()))

        assert written, cls.type
        for table, row in written:
            assert len(row) == widths[table], cls.type


def example(model: type[M]) -> M:
    """A valid instance with every field filled (texts as a line X.Y or a version X.Y.Z)."""
    return model.model_validate(
        {name: _value(name, info.annotation) for name, info in model.model_fields.items()}
    )


def _value(name: str, annotation: Any) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        return _value(name, next(a for a in args if a is not type(None)))
    if origin is Literal:
        return args[0]
    if origin in (tuple, list):
        return [_value(name, args[0])]
    if origin is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return example(annotation).model_dump(mode="json")
    text = "0" * 64 if name == "sha256" else "1.4" if "line" in name else "1.4.3"
    simple = {str: text, int: 1, bool: True, float: 1.0}
    return T0.isoformat() if annotation is datetime else simple[annotation]


def test_csv_flattens_nested_fields_and_joins_lists() -> None:
    rows = [flatten({"sla": "triage", "by_age": {"under_1d": 2}, "labels": ["a", "b"]})]

    assert to_csv(rows) == "sla,by_age.under_1d,labels\ntriage,2,a;b\n"
