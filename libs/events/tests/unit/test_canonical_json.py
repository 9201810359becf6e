"""The store's canonical JSON (orjson where provably equal, the `rfc8785` library otherwise) is
byte for byte RFC 8785 (JCS) as the library writes it, refusals included: what `event_hash`
hashes (hash version 2)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from functools import partial
from typing import Any, ClassVar, Literal

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.hashing import GENESIS, JCS_HASH, LEGACY_HASH, canonical_text
from lts_events.jcs import NotIJson, jcs
from lts_events.store.canonical import (
    _may_differ_from_jcs,
    canonical_dump,
    canonical_json,
    float_free_json,
)
from lts_events.store.chaining import as_jsonb_reads_back, chain
from lts_events.store.schema_floats import float_fields, floats_possible
from pydantic import (
    BaseModel,
    ConfigDict,
    computed_field,
    create_model,
    field_serializer,
    model_serializer,
)


def reference(value: Any) -> str | type[BaseException]:
    """The library's JCS, or the type of error it raises."""
    return outcome(jcs, value)


def outcome(canonical: Any, value: Any) -> str | type[BaseException]:
    try:
        text: str = canonical(value)
    except ValueError as error:  # NotIJson, rfc8785.CanonicalizationError, UnicodeEncodeError
        return type(error)
    return text


# Every code point, lone surrogates and control characters included, plus fragments that look
# like the floats the fast path watches for (they only send it to the library), and characters
# whose UTF-16 order is not their code point order (beyond U+FFFF against U+E000-U+FFFF).
characters = st.characters(codec=None, categories=None) | st.sampled_from(
    ["\U0001f600", "\U00010000", "\ue000", "\uffff", "\uff5e"]
)
look_alikes = st.sampled_from(
    ["1e-05", "3e-4,", "0.00001", "7E+2]", "1.0e16}", "0" * 17 + ".", "3.0,", "9" * 16]
)
strings = st.lists(characters | look_alikes, max_size=12).map("".join)
# What an event can carry: no lone surrogate (the edges refuse one with 422, jsonb cannot store
# one, pydantic refuses one in a length-checked field such as an actor's id).
storable_strings = strings.map(
    lambda text: "".join(c for c in text if not "\ud800" <= c <= "\udfff")
)
floats = (
    st.floats()  # the whole range: subnormals, huge values, NaN, infinities, -0.0
    | st.floats(min_value=1e-6, max_value=1e-3)
    | st.floats(min_value=-1e-3, max_value=-1e-6)
    | st.floats(min_value=1e14, max_value=1e18)
    | st.floats(min_value=-1e18, max_value=-1e14)
    | st.integers(min_value=-30, max_value=30).map(lambda e: 10.0**e)
    | st.integers(min_value=-(2**60), max_value=2**60).map(float)  # integral floats
)
integers = (
    st.integers()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.integers(min_value=2**53 - 3, max_value=2**53 + 3)
    | st.integers(min_value=1, max_value=2**40).map(lambda n: n * 2**30)  # doubles hold them
)


def json_of(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
        max_leaves=30,
    )


json_values = json_of(st.none() | st.booleans() | integers | floats | strings)
float_free_values = json_of(st.none() | st.booleans() | integers | strings)


@settings(max_examples=2000)
@given(json_values)
@example(1e-05)
@example(1e16)
@example({"a": [1e-7, 0.0001, 1e15, 123456789012345680000.0, -0.0]})
@example({"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")})
@example({"big": 2**64, "small": -(2**63) - 1, "edge": 2**64 - 1})
@example({"\x00\x1f\x7f": '\b\f\n\r\t"\\/\u2028\u2029\U0001f600'})
@example({"\ud800": "lone \udfff surrogates"})
@example({"é": 1, "z": 2, "\U0001f600": 3, "\uffff": 4, "": 5})
@example({"a": [3.0, -0.0, 1e-6, 1e20, 1e21, 2**53, 2**53 + 1, 2**60]})
def test_canonical_json_is_exactly_the_jcs_librarys_for_any_json_value(value: Any) -> None:
    assert outcome(canonical_json, value) == reference(value)


@settings(max_examples=1000)
@given(float_free_values)
@example({"big": 2**64, "edge": 2**64 - 1, "\ud800": "\x00\udfff"})
@example({"\U0001f600": 1, "\uffff": 2})
def test_json_without_floats_is_exactly_the_jcs_librarys(value: Any) -> None:
    assert outcome(float_free_json, value) == reference(value)


@given(
    st.dictionaries(
        st.one_of(st.integers(), st.booleans(), st.none(), st.floats(), strings),
        st.integers(),
        max_size=4,
    )
)
def test_non_string_keys_give_what_the_library_gives_or_the_same_error(value: Any) -> None:
    assert outcome(canonical_json, value) == reference(value)


def test_nesting_deeper_than_orjson_allows_is_still_canonical() -> None:
    deep: Any = "leaf"
    for _ in range(300):
        deep = {"k": [deep]}

    assert canonical_json(deep) == reference(deep)


class Colour(Enum):
    RED = 1


class Label(str):
    pass


@pytest.mark.parametrize(
    "value",
    [uuid.UUID(int=7), Colour.RED, {"when": orjson.Fragment(b"{}")}, {"id": uuid.UUID(int=7)}],
)
def test_objects_the_library_refuses_are_still_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="unsupported type"):
        canonical_json(value)


def test_subclasses_of_json_types_are_written_as_the_library_writes_them() -> None:
    value = {Label("key"): Label("value"), "n": True}

    assert canonical_json(value) == reference(value)


@pytest.mark.parametrize(
    "text",
    [
        b'{"at":"2026-11-22T04:14:38.925523Z","id":"1c3e-4a7b","n":12,"x":0.5}',
        b'{"actor":{"id":"lts-triage"},"branch":"release-lts/v1.4","cvss":9.8}',
        b'{"causation_id":"0b9e7d3e-12ab-4c5e-9f0e-3e4f5a6b7c8d","version":"1.4.2"}',
    ],
)
def test_event_shaped_json_keeps_the_orjson_path(text: bytes) -> None:
    assert not _may_differ_from_jcs(text)


@pytest.mark.parametrize(
    "text",
    [
        b"[1e-05]",
        b'{"a":1.5e-7}',
        b"[0.00001]",
        b"1e+16",
        b"[10000000000000000.0]",
        b"[3.0]",
        b'{"a":-0.0}',
        b'{"n":9007199254740993}',
        '{"\U0001f600":1,"\uffff":2}'.encode(),
    ],
)
def test_json_the_library_may_write_otherwise_leaves_the_orjson_path(text: bytes) -> None:
    assert _may_differ_from_jcs(text)


# -- which models' JSON-mode dumps can hold a float ---------------------------------------------


class Colours(StrEnum):
    RED = "red"


class Size(IntEnum):
    S = 1


class Ratio(Enum):
    HALF = 0.5


class Leaf(BaseModel):
    name: str
    at: datetime
    on: date | None = None
    id: uuid.UUID
    colour: Colours
    size: Size
    kind: Literal["a", 1, None]
    tags: tuple[str, ...] = ()
    counts: dict[str, int] = {}


class Tree(BaseModel):
    leaf: Leaf
    children: list[Tree] = []
    by_name: dict[str, Leaf | None] = {}


class WithFloatField(BaseModel):
    score: float | None = None


class WithNestedFloat(BaseModel):
    parts: list[dict[str, tuple[int, float]]]


class WithAny(BaseModel):
    payload: dict[str, Any]


class WithFieldSerializer(BaseModel):
    n: int

    @field_serializer("n")
    def _third(self, n: int) -> float:
        return n / 3


class WithModelSerializer(BaseModel):
    n: int

    @model_serializer
    def _out(self) -> dict[str, Any]:
        return {"n": self.n / 3}


class WithComputedFloat(BaseModel):
    n: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def third(self) -> float:
        return self.n / 3


FLOATING_KINDS: tuple[Any, ...] = (Decimal, timedelta, Ratio, Literal[0.5], bytes, int | float)


class WithExtras(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int


@pytest.mark.parametrize("model", [Leaf, Tree, Metadata, Actor])
def test_models_of_strings_ints_dates_enums_and_literals_hold_no_float(
    model: type[BaseModel],
) -> None:
    assert not floats_possible(model)


@pytest.mark.parametrize(
    "model",
    [
        WithFloatField,
        WithNestedFloat,
        WithAny,
        WithFieldSerializer,
        WithModelSerializer,
        WithComputedFloat,
        WithExtras,
        *(
            create_model(f"Holding{index}", value=(kind, ...))
            for index, kind in enumerate(FLOATING_KINDS)
        ),
    ],
)
def test_models_that_may_dump_a_float_are_recognised(model: type[BaseModel]) -> None:
    assert floats_possible(model)


class Scored(BaseModel):
    leaf: Leaf | None = None
    score: float | None = None
    ratio: int | float = 0
    label: str = ""


def test_floats_only_under_top_level_keys_are_found_there() -> None:
    assert float_fields(Scored) == frozenset({"score", "ratio"})
    assert float_fields(WithFloatField) == frozenset({"score"})
    assert float_fields(WithComputedFloat) == frozenset({"third"})
    assert float_fields(Leaf) == frozenset()


@pytest.mark.parametrize("model", [WithNestedFloat, WithAny, WithFieldSerializer, WithExtras])
def test_floats_that_may_be_anywhere_have_no_keys(model: type[BaseModel]) -> None:
    assert float_fields(model) is None


@given(
    st.floats(min_value=1e-4, max_value=1e16, exclude_max=True)
    | st.floats(min_value=-1e16, max_value=-1e-4, exclude_min=True)
    | st.sampled_from([0.0, -0.0, 1e-4, 0.1, 0.30000000000000004, 9999999999999998.0])
)
def test_orjson_writes_floats_of_the_positional_range_as_repr_does(value: float) -> None:
    assert orjson.dumps(value).decode() == repr(value)


@given(
    st.floats(min_value=1e-4, max_value=1e16, exclude_max=True)
    | st.floats(min_value=-1e16, max_value=-1e-4, exclude_min=True)
    | st.sampled_from([1e-4, 0.1, 0.30000000000000004, 9999999999999998.5, 2.5])
)
def test_orjson_writes_non_integral_floats_of_the_positional_range_as_jcs_does(
    value: float,
) -> None:
    if value.is_integer():
        assert orjson.dumps(value).decode() != jcs(value)  # 3.0 against 3
    else:
        assert orjson.dumps(value).decode() == jcs(value)


@given(floats | st.none(), st.integers(min_value=0, max_value=2**70), strings)
def test_a_models_canonical_dump_is_jcs_of_its_json_mode_dump(
    score: float | None, n: int, text: str
) -> None:
    leaf = Leaf(
        name=text,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        id=uuid.UUID(int=n % 2**128),
        colour=Colours.RED,
        size=Size.S,
        kind=1,
        counts={text: n},
    )
    for model in (
        leaf,
        Tree(leaf=leaf, children=[Tree(leaf=leaf)]),
        WithFloatField(score=score),
        Scored(leaf=leaf, score=score, ratio=n, label=text),
        Scored(score=None, ratio=score if score is not None else n),
    ):
        dumped = model.model_dump(mode="json")

        assert outcome(partial(canonical_dump, type(model)), dumped) == reference(dumped)


class LeafFound(Event):
    type: ClassVar[str] = "lts.test.unit.leaf_found"
    leaf: Leaf
    score: float


class TreeGrown(Event):
    type: ClassVar[str] = "lts.test.unit.tree_grown"
    tree: Tree


@given(floats, storable_strings)
def test_chained_events_carry_jcs_of_their_data_and_metadata_or_the_legacy_form(
    score: float, text: str
) -> None:
    leaf = Leaf(
        name=text,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        id=uuid.UUID(int=7),
        colour=Colours.RED,
        size=Size.S,
        kind="a",
    )
    # an actor id holds at most 200 characters; twelve look-alikes can make more
    metadata = Metadata(actor=Actor(id=f"a{text}"[:200], role=Role.AUTOMATION), reason=text)
    events = [
        NewEvent.of(LeafFound(leaf=leaf, score=score), metadata),
        NewEvent.of(TreeGrown(tree=Tree(leaf=leaf)), metadata),
    ]

    chained = chain("s-1", events, head_version=0, head_hash=GENESIS)

    for c in chained:
        data = c.new.event.to_data()
        if isinstance(reference(data), str):
            assert c.hash_version == JCS_HASH
            assert c.data == data
            assert c.data_json == reference(data)
            assert c.metadata_json == reference(metadata.model_dump(mode="json"))
        else:  # NaN or an infinity: JCS cannot hold it
            assert reference(data) is NotIJson
            stored = as_jsonb_reads_back(data)  # big floats as the ints jsonb keeps
            assert c.hash_version == LEGACY_HASH
            assert c.data == stored
            assert c.data_json == canonical_text(stored, LEGACY_HASH)
            assert c.metadata_json == canonical_text(metadata.model_dump(mode="json"), LEGACY_HASH)
