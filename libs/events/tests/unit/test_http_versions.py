"""The stream version as ETag: parsing If-Match / If-None-Match, the 412 and 304 decisions, and
the route helpers on a real FastAPI app."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, RecordedEvent
from lts_events.event import Event
from lts_events.http_versions import (
    IfMatch,
    PreconditionFailed,
    Tags,
    VersionedRead,
    Versions,
    etag,
    is_not_modified,
    is_stale,
    parse_tags,
)
from lts_events.problems import install_problem_answers


def test_a_version_is_a_strong_quoted_etag() -> None:
    assert etag(7) == '"7"'


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ('"7"', Tags(frozenset({"7"}))),
        ('W/"7"', Tags(frozenset({"7"}))),
        ('"6", W/"7" ,"8"', Tags(frozenset({"6", "7", "8"}))),
        ('"a,b", "9"', Tags(frozenset({"a,b", "9"}))),
        ("*", Tags(anything=True)),
        ("7", Tags(frozenset({"7"}))),
    ],
)
def test_a_header_lists_strong_weak_quoted_and_bare_tags(header: str, tags: Tags) -> None:
    assert parse_tags(header) == tags


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_header_is_no_condition(header: str | None) -> None:
    assert parse_tags(header) is None


def test_if_match_naming_the_current_version_is_not_stale() -> None:
    assert not is_stale(parse_tags('"5", "7"'), 7)


def test_if_match_naming_another_version_is_stale() -> None:
    assert is_stale(parse_tags('"6"'), 7)


def test_if_match_that_is_no_etag_of_ours_is_stale() -> None:
    assert is_stale(parse_tags('"abc"'), 7)


def test_without_if_match_nothing_is_stale() -> None:
    assert not is_stale(None, 7)


def test_if_match_star_needs_the_model_to_exist() -> None:
    assert not is_stale(parse_tags("*"), 1)
    assert is_stale(parse_tags("*"), 0)


def test_if_none_match_naming_the_current_version_is_not_modified() -> None:
    assert is_not_modified(parse_tags('W/"7"'), 7)
    assert not is_not_modified(parse_tags('"6"'), 7)
    assert not is_not_modified(None, 7)


class NoteWritten(Event):
    type: ClassVar[str] = "lts.test.unit.note_written"
    text: str


class NoteRequestRefused(Event):
    type: ClassVar[str] = "lts.test.unit.note_request_refused"
    reason: str


def _stream(*events: Event) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            event_id=uuid.uuid4(),
            stream_id="note-1",
            stream_version=version,
            position=version,
            transaction_id=900,
            type=event.type,
            schema_version=event.schema_version,
            data=event.to_data(),
            metadata=Metadata(actor=Actor(id="alice", role=Role.QA), reason=None),
            recorded_at=datetime(2026, 3, 1, tzinfo=UTC),
            hash="f" * 64,
        )
        for version, event in enumerate(events, start=1)
    ]


def test_refusals_recorded_after_the_last_change_do_not_move_the_model_version() -> None:
    refused = NoteRequestRefused(reason="no")
    events = _stream(NoteWritten(text="a"), refused, NoteWritten(text="b"), refused, refused)

    versions = Versions.of(events, audit_only=(NoteRequestRefused,))

    assert versions == Versions(stream=5, model=3)


def test_an_empty_stream_is_version_zero() -> None:
    assert Versions.of([], audit_only=(NoteRequestRefused,)) == Versions(stream=0, model=0)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_answers(app)
    current = 7

    @app.get("/things/{thing}")
    async def get_thing(thing: str, versioned: VersionedRead) -> dict[str, str]:
        versioned.answer(current)
        return {"thing": thing}

    @app.post("/things/{thing}")
    async def post_thing(thing: str, if_match: IfMatch) -> dict[str, str]:
        if is_stale(if_match, current):
            raise PreconditionFailed(current)
        return {"thing": thing}

    return app


def test_a_get_sends_the_version_as_etag() -> None:
    answer = TestClient(_app()).get("/things/a")

    assert answer.status_code == 200
    assert answer.headers["ETag"] == '"7"'


def test_a_get_whose_if_none_match_names_the_version_is_304_without_body() -> None:
    answer = TestClient(_app()).get("/things/a", headers={"If-None-Match": '"7"'})

    assert answer.status_code == 304
    assert answer.headers["ETag"] == '"7"'
    assert answer.content == b""


def test_a_stale_if_match_is_412_problem_naming_the_current_etag() -> None:
    answer = TestClient(_app()).post("/things/a", headers={"If-Match": '"6"'})

    assert answer.status_code == 412
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["ETag"] == '"7"'
    assert answer.json()["etag"] == '"7"'
    assert answer.json()["status"] == 412


def test_a_current_if_match_passes() -> None:
    answer = TestClient(_app()).post("/things/a", headers={"If-Match": '"7"'})

    assert answer.status_code == 200
