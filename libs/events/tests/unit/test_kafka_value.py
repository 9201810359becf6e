"""The relay's Kafka value of stored data JSON (`kafka_value`, orjson with a fallback) is byte for
byte what the relay sent when it decoded events first: `to_json(from_json(text))`. Texts come in
the two forms stores give: jsonb's (`", "` and `": "` between items, numbers positional) and
compact JSON (the in-memory store)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lts_events.relay import kafka_value
from pydantic_core import from_json, to_json


def reference(text: str) -> bytes:
    return to_json(from_json(text))


def jsonb_text(value: Any) -> str:
    """`value` as PostgreSQL prints a jsonb holding it: items separated by `", "` and `": "`,
    non-ASCII kept, numbers positional (numeric never prints an exponent)."""
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(v) for v in value) + "]"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return json.dumps(value, ensure_ascii=False)


# Every code point but lone surrogates (no store holds them), and fragments that look like
# the numbers the fast path watches for.
characters = st.characters(codec="utf-8")
look_alikes = st.sampled_from(["1e+16", "e+", "18446744073709551616", "0.0000001", "-0"])
strings = st.lists(characters | look_alikes, max_size=12).map("".join)
floats = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-8, max_value=1e-3)
    | st.floats(min_value=1e14, max_value=1e20)
    | st.floats(min_value=-1e20, max_value=-1e14)
    | st.integers(min_value=-30, max_value=30).map(lambda e: 10.0**e)
)
integers = (
    st.integers()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1])
)
json_values = st.recursive(
    st.none() | st.booleans() | integers | floats | strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=30,
)
objects = st.dictionaries(strings, json_values, max_size=3)


@settings(max_examples=600)
@given(objects)
@example({"big": 2**64, "small": -(2**63) - 1, "edge": 2**64 - 1, "low": -(2**63)})
@example({"a": [1e-7, 0.0001, 1e15, 1e16, 123456789012345680000.0, -0.0, 0.1, 5e-324]})
@example({"\x00\x1f\x7f": '\b\f\n\r\t"\\/\u2028\u2029\U0001f600 e+ 1e+16'})
@example({"é": 1, "z": {}, "\U0001f600": [], "": None, "t": True})
def test_the_value_of_a_jsonb_text_is_the_decoded_datas_compact_json(value: Any) -> None:
    text = jsonb_text(value)

    assert kafka_value(text) == reference(text)


@settings(max_examples=300)
@given(objects)
@example({"huge": 1e300, "tiny": 1e-300, "big": 2**70})
def test_the_value_of_a_compact_text_is_the_decoded_datas_compact_json(value: Any) -> None:
    text = to_json(value).decode()

    assert kafka_value(text) == reference(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 1' + "0" * 400 + ".5}",  # beyond a double: orjson refuses it
        '{"n": 0.' + "0" * 400 + "1}",  # below the smallest subnormal
        '{"n": -' + "9" * 30 + "}",
        '{"n": 12345678901234567890.0}',
        '{"s": "\\ud83d\\ude00 \\u00e9 \\" \\\\ \\/"}',  # escapes jsonb never writes
        '{"n": 1E400}',
    ],
)
def test_numbers_and_escapes_orjson_reads_otherwise_give_the_reference_bytes(text: str) -> None:
    assert kafka_value(text) == reference(text)


def test_data_nested_deeper_than_orjson_writes_gives_the_reference_bytes() -> None:
    text = '{"k": ' + "[" * 190 + "]" * 190 + "}"

    assert kafka_value(text) == reference(text)


def test_data_nested_deeper_than_the_reference_reads_is_still_sent_compact() -> None:
    text = '{"k": ' + "[" * 230 + "]" * 230 + "}"

    assert kafka_value(text) == json.dumps(json.loads(text), separators=(",", ":")).encode()
