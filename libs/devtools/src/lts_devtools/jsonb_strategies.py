"""Hypothesis strategies for the JSON a PostgreSQL jsonb column holds: one home for the property
tests of what the stores write and read back (lts_events' and metrics').

Left out, because jsonb refuses them (checked against our PostgreSQL):
- NUL in strings: jsonb refuses the escape `\\u0000` ("cannot be converted to text"), and a text
  value cannot hold the byte at all;
- lone surrogates: they are not UTF-8, and jsonb refuses the escaped one (`"\\ud800"`: "Unicode
  low surrogate must follow a high surrogate"); drawing through the UTF-8 codec leaves them out;
- NaN and ±Infinity: not JSON (jsonb refuses the token `NaN`).

Drawn on purpose, because jsonb changes them: it holds numbers as `numeric` and writes them back
in plain notation (1e22 as 10000000000000000000000, 1e-05 as 0.00001, -0.0 as 0.0), keeps the
last of duplicate keys and orders keys its own way. So the numbers come in every range: integers
beyond 64 bits and beyond ±(2**53 - 1) (where JSON parsers and RFC 8785 stop being exact),
floats around where Python's notation switches to exponents (below 1e-4, from 1e16) and where
RFC 8785's does (below 1e-6, from 1e21), and integral floats (3.0, which RFC 8785 writes as 3)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

jsonb_strings: st.SearchStrategy[str] = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8
)

jsonb_numbers: st.SearchStrategy[int | float] = (
    st.integers()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-8, max_value=1e-3)
    | st.floats(min_value=1e14, max_value=1e22)
    | st.integers(min_value=-(10**6), max_value=10**6).map(float)
)

# Any: a JSON value is recursive (None, bool, number, str, lists and objects of JSON values).
jsonb_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | jsonb_numbers | jsonb_strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(jsonb_strings, inner, max_size=3),
    max_leaves=12,
)
