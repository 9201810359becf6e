"""`_fast.json_loads` (orjson unless the text may hold what it reads otherwise) gives what
`json.loads` gives: the same values of the same types, and an error where it errs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lts_events._fast import json_loads


def tagged(value: Any) -> Any:
    """`value` with every leaf's type, floats by their repr (so -0.0 is not 0.0, nan is nan)."""
    if isinstance(value, dict):
        return ("dict", [(k, tagged(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [tagged(v) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


strings = st.text(st.characters(codec="utf-8"), max_size=10) | st.sampled_from(
    ["1234567890123456789", "e+16", "\u2028", "\U0001f600"]
)
integers = (
    st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**18])
)
floats = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e15, max_value=1e25)
    | st.floats(min_value=1e-10, max_value=1e-3)
)
values = st.recursive(
    st.none() | st.booleans() | integers | floats | strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=25,
)
objects = st.dictionaries(strings, values, max_size=4)


@settings(max_examples=500)
@given(objects, st.booleans(), st.booleans())
@example({"big": 2**64, "low": -(2**63) - 1, "edge": 2**64 - 1, "i64": -(2**63)}, True, False)
@example({"a": [1e-7, 1e16, 1e22, -0.0, 5e-324, 0.1, 1.0, 1e308]}, False, True)
def test_the_values_are_json_loads_values(value: Any, ascii_only: bool, compact: bool) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(value, ensure_ascii=ascii_only, separators=separators).encode()

    assert tagged(json_loads(text)) == tagged(json.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": NaN, "b": Infinity, "c": -Infinity}',  # not JSON, but json.loads reads them
        b'{"a": 1e400, "b": -1e400}',  # beyond a double: inf
        b'{"a": "\\ud800", "b": "\\udc00x"}',  # lone surrogates
        b'{"a": 1, "a": 2, "b": 3}',  # the last of a repeated key
        b'{"a": 0.1000000000000000055511151231257827, "b": 12345678901234567890123}',
        b'{"a": -9999999999999999999, "b": 18446744073709551616}',
        '{"a": "é"}'.encode("utf-16"),
        '{"a": "é"}'.encode("utf-8-sig"),
        b'[1, 2.5, "x"]',
    ],
)
def test_text_beyond_orjson_is_read_as_json_loads_reads_it(text: bytes) -> None:
    assert tagged(json_loads(text)) == tagged(json.loads(text))
    assert math.isnan(json_loads(b'{"a": NaN}')["a"])


@pytest.mark.parametrize("text", [b"", b"{", b'{"a": }', b'{"a": 1} x', b"\xff\xfe\x00"])
def test_invalid_json_raises_what_json_loads_raises(text: bytes) -> None:
    expected, actual = error_of(json.loads, text), error_of(json_loads, text)

    assert expected is not None
    assert (type(actual), str(actual)) == (type(expected), str(expected))


def error_of(loads: Callable[[bytes], Any], text: bytes) -> Exception | None:
    try:
        loads(text)
    except Exception as error:
        return error
    return None
