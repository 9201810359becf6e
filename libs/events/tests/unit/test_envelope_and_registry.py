"""Events, the registry with upcasters, metadata, the CloudEvents envelope and the hash chain."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lts_events.actors import Actor, Role
from lts_events.envelope import Envelope, Metadata, NewEvent, RecordedEvent
from lts_events.event import REGISTRY, Event, EventRegistry, JsonDict, UnknownEventType
from lts_events.hashing import GENESIS, LEGACY_HASH, event_hash
from lts_events.relay import envelope_record
from lts_events.store.chaining import canonical_json, chain_hash
from lts_events.store.heads import StreamHeads
from lts_events.store.port import ANY, NO_STREAM
from lts_events.store.rows import trusted_recorded
from pydantic import ValidationError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Actor(id="alice", role=Role.TRIAGE_ENGINEER)


class AdvisoryDrafted(Event):
    type: ClassVar[str] = "lts.test.unit.advisory_drafted"
    advisory_id: str
    title: str


class BranchNamed(Event):
    """v1 {"branch": "5.4"} -> v2 {"series": "5.4"} -> v3 {"series": "5.4", "prefix": ...}."""

    type: ClassVar[str] = "lts.test.unit.branch_named"
    schema_version: ClassVar[int] = 3
    series: str
    prefix: str


@REGISTRY.upcaster(BranchNamed.type, from_version=1)
def _rename_branch(data: JsonDict) -> JsonDict:
    return {"series": data["branch"]}


@REGISTRY.upcaster(BranchNamed.type, from_version=2)
def _add_prefix(data: JsonDict) -> JsonDict:
    return {**data, "prefix": "release-lts/v"}


def a_recorded(event: Event, *, metadata: Metadata | None = None) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(),
        stream_id="advisory-1",
        stream_version=2,
        position=17,
        transaction_id=900,
        type=event.type,
        schema_version=event.schema_version,
        data=event.to_data(),
        metadata=metadata or Metadata(actor=ALICE, reason="drafting"),
        recorded_at=T0,
        hash="f" * 64,
    )


# --- events and the registry --------------------------------------------------------------------


def test_an_event_subclass_with_a_type_is_registered() -> None:
    assert REGISTRY.class_for(AdvisoryDrafted.type) is AdvisoryDrafted
    assert REGISTRY.knows(AdvisoryDrafted.type)
    assert AdvisoryDrafted.type in REGISTRY.all()


def test_events_are_frozen() -> None:
    event = AdvisoryDrafted(advisory_id="A-1", title="t")

    with pytest.raises(ValidationError):
        event.title = "changed"  # type: ignore[misc]


def test_events_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        AdvisoryDrafted.model_validate({"advisory_id": "A-1", "title": "t", "extra": 1})


def test_events_compare_by_value() -> None:
    assert AdvisoryDrafted(advisory_id="A-1", title="t") == AdvisoryDrafted(
        advisory_id="A-1", title="t"
    )


def test_decoding_current_data_gives_the_event() -> None:
    event = REGISTRY.decode(AdvisoryDrafted.type, 1, {"advisory_id": "A-1", "title": "t"})

    assert event == AdvisoryDrafted(advisory_id="A-1", title="t")


def test_decoding_old_data_runs_every_upcaster_in_turn() -> None:
    event = REGISTRY.decode(BranchNamed.type, 1, {"branch": "5.4"})

    assert event == BranchNamed(series="5.4", prefix="release-lts/v")


def test_decoding_from_a_middle_version_runs_only_the_later_upcasters() -> None:
    event = REGISTRY.decode(BranchNamed.type, 2, {"series": "6.1"})

    assert event == BranchNamed(series="6.1", prefix="release-lts/v")


def test_upcasting_leaves_the_stored_data_untouched() -> None:
    stored = {"branch": "5.4"}

    REGISTRY.upcast(BranchNamed.type, 1, stored)

    assert stored == {"branch": "5.4"}


def test_a_missing_upcaster_is_an_error_naming_the_version() -> None:
    registry = EventRegistry()
    registry.register(BranchNamed)

    with pytest.raises(LookupError, match="schema version 1"):
        registry.decode(BranchNamed.type, 1, {"branch": "5.4"})


def test_an_unknown_type_is_an_error() -> None:
    with pytest.raises(UnknownEventType):
        REGISTRY.decode("lts.test.unit.never_defined", 1, {})


def test_two_classes_claiming_one_type_are_refused() -> None:
    registry = EventRegistry()
    registry.register(AdvisoryDrafted)

    class Impostor(Event):
        title: str

    Impostor.type = AdvisoryDrafted.type

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Impostor)


# --- metadata -----------------------------------------------------------------------------------


def test_a_follow_up_keeps_the_correlation_and_points_at_its_cause() -> None:
    first = Metadata(actor=ALICE, traceparent="00-abc-def-01", tracestate="k=v")
    bot = Actor(id="lts-triage", role=Role.AUTOMATION)

    follow_up = first.caused_by(event_id="evt-1", actor=bot, reason="auto triage")

    assert follow_up.correlation_id == first.correlation_id
    assert follow_up.causation_id == "evt-1"
    assert follow_up.actor == bot
    assert follow_up.reason == "auto triage"
    assert (follow_up.traceparent, follow_up.tracestate) == ("00-abc-def-01", "k=v")


def test_every_new_metadata_starts_its_own_correlation() -> None:
    assert Metadata(actor=ALICE).correlation_id != Metadata(actor=ALICE).correlation_id


def test_a_new_event_gets_an_id_unless_given_one() -> None:
    given = uuid.uuid4()
    event = AdvisoryDrafted(advisory_id="A-1", title="t")

    assert (
        NewEvent.of(event, Metadata(actor=ALICE)).event_id
        != NewEvent.of(event, Metadata(actor=ALICE)).event_id
    )
    assert NewEvent.of(event, Metadata(actor=ALICE), event_id=given).event_id == given


# --- recorded events and the CloudEvents envelope -----------------------------------------------


def test_a_recorded_event_decodes_its_data_upcast() -> None:
    recorded = a_recorded(BranchNamed(series="x", prefix="y")).model_copy(
        update={"schema_version": 1, "data": {"branch": "5.10"}}
    )

    assert recorded.event == BranchNamed(series="5.10", prefix="release-lts/v")


def test_the_envelope_carries_identity_subject_and_audit_facts() -> None:
    recorded = a_recorded(AdvisoryDrafted(advisory_id="A-1", title="t"))

    envelope = recorded.to_envelope(source="lts/comms")

    assert envelope.specversion == "1.0"
    assert envelope.id == str(recorded.event_id)
    assert (envelope.source, envelope.type, envelope.subject) == (
        "lts/comms",
        AdvisoryDrafted.type,
        "advisory-1",
    )
    assert envelope.time == T0
    assert envelope.streamversion == 2
    assert envelope.actor == ALICE
    assert envelope.reason == "drafting"
    assert envelope.correlationid == recorded.metadata.correlation_id
    assert envelope.event == AdvisoryDrafted(advisory_id="A-1", title="t")


def test_binary_mode_puts_data_in_the_value_and_attributes_in_ce_headers() -> None:
    envelope = a_recorded(AdvisoryDrafted(advisory_id="A-1", title="t")).to_envelope(source="s")

    _, value, headers = envelope_record(envelope)

    names = dict(headers)
    assert json.loads(value) == {"advisory_id": "A-1", "title": "t"}
    assert names["ce_id"] == envelope.id.encode()
    assert names["ce_type"] == AdvisoryDrafted.type.encode()
    assert names["ce_subject"] == b"advisory-1"
    assert names["content-type"] == b"application/json"
    assert "ce_causationid" not in names  # absent attributes are not sent


def test_an_envelope_survives_a_round_trip_through_kafka() -> None:
    metadata = Metadata(actor=ALICE, reason="r", causation_id="c-1", traceparent="00-a-b-01")
    envelope = a_recorded(
        AdvisoryDrafted(advisory_id="A-1", title="t"), metadata=metadata
    ).to_envelope(source="lts/comms")

    decoded = Envelope.from_kafka(*envelope_record(envelope)[1:])

    assert decoded == envelope
    assert decoded.metadata() == metadata


def test_a_structured_cloudevent_is_understood() -> None:
    document = {
        "specversion": "1.0",
        "id": "alert-7",
        "source": "alertmanager",
        "type": "com.example.alert",
        "data": {"fingerprint": "abc"},
        "severityhint": "page",
    }

    envelope = Envelope.from_kafka(
        json.dumps(document).encode(),
        [("content-type", b"application/cloudevents+json; charset=utf-8")],
    )

    assert envelope.id == "alert-7"
    assert envelope.data == {"fingerprint": "abc"}
    assert envelope.model_extra == {"severityhint": "page"}


def test_an_envelope_without_an_actor_is_attributed_to_its_source() -> None:
    envelope = Envelope(id="x", source="osv-feed", type="t", data={})

    assert envelope.metadata().actor == Actor(id="osv-feed", role=Role.AUTOMATION)
    assert envelope.metadata().correlation_id == "x"


@pytest.mark.parametrize(
    ("value", "headers", "problem"),
    [
        (None, [("ce_id", b"1")], "no body"),
        (b"[1, 2]", [("ce_id", b"1")], "JSON object"),
        (
            json.dumps({"id": "1", "source": "s", "type": "t", "data_base64": "AA=="}).encode(),
            [("content-type", b"application/cloudevents+json")],
            "data_base64",
        ),
    ],
)
def test_messages_that_are_not_json_object_events_are_refused(
    value: bytes | None, headers: list[tuple[str, bytes]], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Envelope.from_kafka(value, headers)


ATTRIBUTES = [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")]


def test_header_names_are_read_in_any_case_and_the_last_of_a_name_wins() -> None:
    headers = [*ATTRIBUTES, ("CE_Type", b"t2"), ("Content-Type", b"application/json"), ("x", b"")]

    envelope = Envelope.from_kafka(b"{}", headers)

    assert (envelope.id, envelope.type, envelope.datacontenttype) == ("1", "t2", "application/json")
    assert envelope.model_extra == {}  # headers other than ce_* are not attributes


def test_a_header_that_is_not_utf8_makes_the_message_undecodable() -> None:
    with pytest.raises(UnicodeDecodeError):
        Envelope.from_kafka(b"{}", [*ATTRIBUTES, ("x-binary", b"\xff")])


# --- the hash chain -----------------------------------------------------------------------------


def a_hash(**changes: object) -> str:
    arguments: dict[str, object] = {
        "previous_hash": GENESIS,
        "event_id": uuid.UUID(int=1),
        "stream_id": "ticket-1",
        "stream_version": 1,
        "type_": "lts.test.x",
        "schema_version": 1,
        "data": {"b": 2, "a": [1, "é"]},
        "metadata": {"actor": {"id": "alice", "role": "qa"}},
    }
    arguments.update(changes)
    return event_hash(**arguments)  # type: ignore[arg-type]


def test_the_genesis_hash_is_sixty_four_zeros() -> None:
    assert GENESIS == "0" * 64


def test_a_hash_is_a_sha256_hex_digest_independent_of_key_order() -> None:
    digest = a_hash()

    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert a_hash(data={"a": [1, "é"], "b": 2}) == digest


@pytest.mark.parametrize(
    "change",
    [
        {"previous_hash": "1" * 64},
        {"event_id": uuid.UUID(int=2)},
        {"stream_id": "ticket-2"},
        {"stream_version": 2},
        {"type_": "lts.test.y"},
        {"schema_version": 2},
        {"data": {"b": 3, "a": [1, "é"]}},
        {"metadata": {"actor": {"id": "mallory", "role": "qa"}}},
    ],
)
def test_changing_anything_the_hash_covers_changes_the_hash(change: dict[str, object]) -> None:
    assert a_hash(**change) != a_hash()


def test_hash_version_2_hashes_numbers_as_doubles_and_version_1_as_python_writes_them() -> None:
    as_float, as_int = {"score": 3.0}, {"score": 3}

    assert a_hash(data=as_float) == a_hash(data=as_int)  # both `3` in RFC 8785
    assert a_hash(data=as_float, hash_version=LEGACY_HASH) != a_hash(
        data=as_int, hash_version=LEGACY_HASH
    )  # `3.0` against `3`
    assert a_hash(data=as_int, hash_version=LEGACY_HASH) == a_hash(data=as_int)  # same text


# --- store helpers that need no database --------------------------------------------------------


def test_a_trusted_recorded_event_equals_the_validated_one() -> None:
    validated = a_recorded(AdvisoryDrafted(advisory_id="A-1", title="t"))

    trusted = trusted_recorded(dict(validated.__dict__))

    assert trusted == validated
    assert trusted.model_dump() == validated.model_dump()
    assert trusted.event == validated.event
    assert trusted.model_fields_set == validated.model_fields_set


def test_copying_a_trusted_event_leaves_the_others_alone() -> None:
    first = trusted_recorded(
        dict(a_recorded(AdvisoryDrafted(advisory_id="A-1", title="t")).__dict__)
    )
    second = trusted_recorded(
        dict(a_recorded(AdvisoryDrafted(advisory_id="A-2", title="t")).__dict__)
    )

    changed = first.model_copy(update={"hash": "0" * 64})

    assert changed.hash == "0" * 64
    assert first.hash == second.hash == "f" * 64
    assert first.model_fields_set == set(RecordedEvent.model_fields)


def test_a_remembered_head_is_offered_only_when_the_expected_version_agrees() -> None:
    heads = StreamHeads()
    heads.remember("s", 3, "h3")

    assert heads.guess("s", 3) == (3, "h3")
    assert heads.guess("s", ANY) == (3, "h3")
    assert heads.guess("s", 2) is None
    assert heads.guess("other", ANY) is None
    assert heads.guess("other", NO_STREAM) == (0, GENESIS)


def test_a_head_never_moves_backwards() -> None:
    heads = StreamHeads()
    heads.remember("a", 5, "h5")

    heads.remember("a", 4, "h4")

    assert heads.guess("a", ANY) == (5, "h5")


def test_the_least_recently_touched_head_is_forgotten_first() -> None:
    heads = StreamHeads(capacity=2)
    heads.remember("a", 5, "h5")
    heads.remember("b", 1, "hb")

    heads.remember("c", 1, "hc")

    assert heads.guess("a", ANY) is None
    assert heads.guess("b", ANY) == (1, "hb")
    assert heads.guess("c", ANY) == (1, "hc")


# I-JSON: what RFC 8785 can hold (the legacy form's fallback is tested with the chain).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@given(
    previous=st.text(min_size=1),
    event_id=st.uuids(),
    stream_id=st.text(),
    version=st.integers(min_value=1, max_value=2**31),
    type_=st.text(),
    schema_version=st.integers(min_value=1, max_value=99),
    data=st.dictionaries(st.text(), json_values, max_size=4),
    metadata=st.dictionaries(st.text(), json_values, max_size=4),
)
def test_the_stores_chain_hash_is_exactly_the_event_hash(
    previous: str,
    event_id: uuid.UUID,
    stream_id: str,
    version: int,
    type_: str,
    schema_version: int,
    data: JsonDict,
    metadata: JsonDict,
) -> None:
    expected = event_hash(
        previous_hash=previous,
        event_id=event_id,
        stream_id=stream_id,
        stream_version=version,
        type_=type_,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
    )

    fast = chain_hash(
        previous_hash=previous,
        event_id=event_id,
        stream_id=stream_id,
        stream_version=version,
        type_=type_,
        schema_version=schema_version,
        data_json=canonical_json(data),
        metadata_json=canonical_json(metadata),
    )

    assert fast == expected


def test_an_envelope_with_a_role_unknown_to_us_still_decodes_without_an_actor() -> None:
    value = b'{"x": 1}'
    headers = [
        ("ce_id", b"e-1"),
        ("ce_source", b"other-system"),
        ("ce_type", b"com.example.thing_happened"),
        ("ce_specversion", b"1.0"),
        ("ce_actorid", b"bot-7"),
        ("ce_actorrole", b"janitor"),
    ]

    envelope = Envelope.from_kafka(value, headers)

    assert envelope.actorrole == "janitor"
    assert envelope.actor is None
