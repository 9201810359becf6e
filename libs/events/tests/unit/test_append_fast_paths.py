"""The shortcuts an append takes before any SQL is sent give exactly what the general path gives:
the metadata's canonical JSON written field by field, Metadata built without validation, event
ids made without `UUID.__init__`, and a chain whose hashes are `appended_hash`'s (what `lts store
verify` recomputes from the stored data and metadata)."""

from __future__ import annotations

import uuid
import warnings
from typing import Any, ClassVar

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lts_events import ids
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event, JsonDict
from lts_events.hashing import GENESIS, LEGACY_HASH, appended_hash, canonical_text
from lts_events.jcs import jcs
from lts_events.store.canonical import MetadataWriter, canonical_dump, canonical_metadata
from lts_events.store.chaining import as_jsonb_reads_back, chain
from pydantic import BaseModel, ConfigDict


def reference(value: Any) -> str:
    return jcs(value)


# Every code point (lone surrogates, control characters, quotes, backslashes included). Pydantic
# refuses lone surrogates, so metadata holding them is built without validation, as a model
# from `model_construct` or `Metadata.trusted` could hold them.
texts = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ['"', "\\", "\x00\x1f\x7f", "\u2028\u2029", "é\U0001f600", "\ud800", "a\udfffb"]
)
# Strings UTF-8 can encode (no lone surrogates): what validation accepts.
valid_texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ['"', "\\", "\x00\x1f\x7f", "\u2028\u2029", "é\U0001f600"]
)
optional_valid_texts = st.none() | valid_texts
actors = st.builds(Actor, id=valid_texts.filter(bool), role=st.sampled_from(Role))


@st.composite
def metadatas(draw: st.DrawFn, strings: st.SearchStrategy[str] = valid_texts) -> Metadata:
    """Validated Metadata, or with `texts` Metadata built without validation."""
    optional = st.none() | strings
    actor = {"id": draw(strings.filter(bool)), "role": draw(st.sampled_from(Role))}
    values: dict[str, Any] = {
        "reason": draw(optional),
        "correlation_id": draw(strings),
        "causation_id": draw(optional),
        "traceparent": draw(optional),
        "tracestate": draw(optional),
    }
    if strings is texts:
        return Metadata.model_construct(actor=Actor.model_construct(**actor), **values)
    return Metadata(actor=Actor(**actor), **values)


def general_path(metadata: BaseModel) -> str:
    return canonical_dump(type(metadata), metadata.model_dump(mode="json"))


def assert_written_as_the_general_path(written: str, metadata: BaseModel) -> None:
    """`written` is the general path's text; where that path refuses (a lone surrogate, which
    JCS refuses), `written` cannot be encoded either, so the append fails all the same."""
    try:
        expected = general_path(metadata)
    except ValueError:
        with pytest.raises(UnicodeEncodeError):
            written.encode()
    else:
        assert written == expected
        assert written == reference(metadata.model_dump(mode="json"))


# -- the metadata's canonical JSON ----------------------------------------------------------------


@given(metadatas(texts) | metadatas())
@example(Metadata(actor=Actor(id="a", role=Role.QA), correlation_id="c"))
@example(
    Metadata.model_construct(
        actor=Actor.model_construct(id='"\\\ud800', role=Role.SRE),
        reason="\x00\n\t\u2028é\U0001f600",
        correlation_id="\udfff",
        causation_id="",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate="k=v,\x7f",
    )
)
def test_the_metadata_written_field_by_field_is_its_canonical_dump(metadata: Metadata) -> None:
    assert_written_as_the_general_path(canonical_metadata(metadata), metadata)


@given(st.lists(metadatas(texts) | metadatas(), min_size=1, max_size=5), texts)
def test_metadata_sharing_parts_with_others_in_one_append_is_still_its_own(
    many: list[Metadata], shared: str
) -> None:
    writer = MetadataWriter()
    sharing = [
        m.model_copy(
            update={"actor": many[0].actor, "correlation_id": shared, "traceparent": shared}
        )
        for m in many
    ]

    written = [writer.text(m) for m in many + sharing + many]

    for text, metadata in zip(written, many + sharing + many, strict=True):
        assert_written_as_the_general_path(text, metadata)


def test_metadata_holding_what_validation_would_refuse_takes_the_general_path() -> None:
    unchecked = Metadata.model_construct(
        actor=Actor(id="a", role=Role.QA),
        reason=7,  # type: ignore[arg-type]
        correlation_id="c",
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns that 7 is not a str
        expected = general_path(unchecked)
        text = canonical_metadata(unchecked)

    assert text == expected
    assert '"reason":7' in text


class AuditedMetadata(Metadata):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket: int = 0


def test_a_subclass_of_metadata_is_written_with_its_own_fields() -> None:
    metadata = AuditedMetadata(actor=Actor(id="a", role=Role.QA), ticket=3)

    assert canonical_metadata(metadata) == general_path(metadata)
    assert '"ticket":3' in canonical_metadata(metadata)


# -- Metadata without validation ------------------------------------------------------------------


@given(
    actors,
    optional_valid_texts,
    valid_texts,
    optional_valid_texts,
    optional_valid_texts,
    optional_valid_texts,
)
def test_trusted_metadata_equals_the_validated_one(
    actor: Actor,
    reason: str | None,
    correlation_id: str,
    causation_id: str | None,
    traceparent: str | None,
    tracestate: str | None,
) -> None:
    values: dict[str, Any] = {
        "actor": actor,
        "reason": reason,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "traceparent": traceparent,
        "tracestate": tracestate,
    }

    trusted = Metadata.trusted(**values)

    validated = Metadata(**values)
    assert trusted == validated
    assert trusted.model_dump(mode="json") == validated.model_dump(mode="json")
    assert canonical_metadata(trusted) == canonical_metadata(validated)
    assert trusted.model_fields_set == set(Metadata.model_fields)


def test_trusted_metadata_has_every_field_set_as_metadata_read_back_from_the_store() -> None:
    trusted = Metadata.trusted(actor=Actor(id="a", role=Role.QA), reason="r")

    read_back = Metadata.model_validate_json(trusted.model_dump_json())

    assert read_back == trusted
    assert read_back.model_fields_set == trusted.model_fields_set


def test_trusted_metadata_without_a_correlation_starts_a_new_one() -> None:
    first = Metadata.trusted(actor=Actor(id="a", role=Role.QA))
    second = Metadata.trusted(actor=Actor(id="a", role=Role.QA))

    assert first.correlation_id != second.correlation_id
    assert uuid.UUID(first.correlation_id).version == 4


def test_copying_trusted_metadata_leaves_the_others_alone() -> None:
    first = Metadata.trusted(actor=Actor(id="a", role=Role.QA))
    second = Metadata.trusted(actor=Actor(id="b", role=Role.QA))

    changed = first.model_copy(update={"reason": "changed"})

    assert changed.reason == "changed"
    assert first.reason is None
    assert second.model_fields_set == set(Metadata.model_fields)


def test_a_new_event_of_an_event_equals_one_made_by_its_constructor() -> None:
    metadata = Metadata(actor=Actor(id="a", role=Role.QA))
    event_id = uuid.uuid4()
    event = LevelSet(level=1)

    made = NewEvent.of(event, metadata, event_id=event_id)

    assert made == NewEvent(event=event, metadata=metadata, event_id=event_id)
    assert NewEvent.of(event, metadata).event_id != NewEvent.of(event, metadata).event_id
    assert NewEvent(event=event, metadata=metadata).event_id.version == 7
    made_in_turn = [NewEvent.of(event, metadata).event_id for _ in range(300)]
    assert made_in_turn == sorted(made_in_turn)  # time-ordered: the id index grows at its end


# -- chaining -------------------------------------------------------------------------------------


class LevelSet(Event):
    """Floats only under a top-level key."""

    type: ClassVar[str] = "lts.test.unit.level_set"
    level: float
    note: str = ""


class TagsSet(Event):
    """No float anywhere."""

    type: ClassVar[str] = "lts.test.unit.tags_set"
    schema_version: ClassVar[int] = 3
    tags: tuple[str, ...]


class ShapeDrawn(Event):
    """Floats anywhere."""

    type: ClassVar[str] = 'lts.test.unit."shape"_drawn\u2028'
    points: list[dict[str, float]]


class Scaled(Event):
    """A to_data of its own."""

    type: ClassVar[str] = "lts.test.unit.scaled"
    factor: float

    def to_data(self) -> JsonDict:
        return {"factor": self.factor * 2, "by": "to_data"}


floats = st.floats(allow_nan=False) | st.sampled_from(
    [-0.0, 1e16, -1e17, 1e-5, 123456789012345680000.0]
)


@st.composite
def new_events(draw: st.DrawFn) -> list[NewEvent]:
    shared = draw(metadatas())
    events = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        event: Event = draw(
            st.one_of(
                st.builds(LevelSet, level=floats, note=valid_texts),
                st.builds(TagsSet, tags=st.tuples(valid_texts, valid_texts)),
                st.builds(
                    ShapeDrawn, points=st.lists(st.dictionaries(valid_texts, floats), max_size=2)
                ),
                st.builds(Scaled, factor=floats),
            )
        )
        metadata = draw(st.just(shared) | metadatas())
        event_id = draw(st.uuids() | st.builds(ids.uuid4))
        events.append(NewEvent.of(event, metadata, event_id=event_id))
    return events


@given(
    new_events(),
    valid_texts,
    st.integers(min_value=0, max_value=2**40),
    st.just(GENESIS) | valid_texts,
)
@example([], "s", 0, GENESIS)
def test_chained_hashes_are_the_event_hashes_verify_recomputes(
    events: list[NewEvent], stream_id: str, head_version: int, head_hash: str
) -> None:
    chained = chain(stream_id, events, head_version=head_version, head_hash=head_hash)

    assert len(chained) == len(events)
    previous = head_hash
    for offset, (new, c) in enumerate(zip(events, chained, strict=True), start=1):
        data = new.event.to_data()
        metadata = new.metadata.model_dump(mode="json")
        assert c.stream_version == head_version + offset
        assert c.event_id == str(new.event_id)
        if c.hash_version == LEGACY_HASH:  # an infinity: JCS cannot hold it
            data = as_jsonb_reads_back(data)  # big floats as the ints jsonb keeps
        assert c.data == data
        assert c.data_json == canonical_text(data, c.hash_version)
        assert c.metadata_json == canonical_text(metadata, c.hash_version)
        assert (c.hash_version, c.hash) == appended_hash(
            previous_hash=previous,
            event_id=new.event_id,
            stream_id=stream_id,
            stream_version=head_version + offset,
            type_=new.event.type,
            schema_version=new.event.schema_version,
            data=data,
            metadata=metadata,
        )
        previous = c.hash


def test_an_infinity_is_chained_in_the_legacy_form_jcs_has_none() -> None:
    new = NewEvent.of(Scaled(factor=float("inf")), Metadata(actor=Actor(id="a", role=Role.QA)))

    [c] = chain("s", [new], head_version=0, head_hash=GENESIS)

    assert c.hash_version == LEGACY_HASH
    assert '"factor":Infinity' in c.data_json


def test_a_lone_surrogate_fails_the_append_as_it_fails_event_hash() -> None:
    metadata = Metadata(actor=Actor(id="a", role=Role.QA), reason="\ud800")
    new = NewEvent.of(TagsSet(tags=("t",)), metadata)

    with pytest.raises(ValueError, match="UTF-8"):
        appended_hash(
            previous_hash=GENESIS,
            event_id=new.event_id,
            stream_id="s",
            stream_version=1,
            type_=TagsSet.type,
            schema_version=TagsSet.schema_version,
            data=new.event.to_data(),
            metadata=metadata.model_dump(mode="json"),
        )
    with pytest.raises(UnicodeEncodeError):
        chain("s", [new], head_version=0, head_hash=GENESIS)
