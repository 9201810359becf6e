"""RFC 8785, the JSON Canonicalization Scheme (JCS): the reference form version 2 of the hash
chain covers (docs/hash-chain.md). Made by the `rfc8785` library; `store/canonical.py` makes the
same bytes faster where it can prove them equal.

JCS knows one kind of number, the IEEE-754 double (RFC 8785 §3.2.2.3, as JSON.parse reads it),
written as ECMAScript writes it: 3.0 and 3 are both `3`, 1e20 is `100000000000000000000`. A
Python int beyond ±(2**53 - 1) is taken as the double it is when a double holds it exactly;
one no double holds (12345678901234567890) cannot be hashed in this form: `NotIJson`."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

SAFE_INTEGER = 2**53 - 1  # the largest integer every smaller one of which a double holds


class NotIJson(ValueError):
    """The value holds a number JCS cannot write as it is: NaN, an infinity, or an integer that
    no double holds exactly (RFC 7493, I-JSON)."""


def jcs(value: Any) -> str:
    """The RFC 8785 canonical JSON of `value` (dicts, lists, tuples, str, int, float, bool,
    None); `NotIJson` for a number it cannot hold, `rfc8785.CanonicalizationError` (a
    ValueError) for what is no JSON at all (lone surrogates, non-string keys, other types)."""
    try:
        return rfc8785.dumps(value).decode()
    except rfc8785.IntegerDomainError:
        return jcs(_big_integers_as_doubles(value))
    except rfc8785.FloatDomainError as error:
        raise NotIJson(str(error)) from error


def _big_integers_as_doubles(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _big_integers_as_doubles(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_big_integers_as_doubles(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INTEGER:
        try:
            double = float(value)
        except OverflowError:
            double = float("inf")
        if double != value:  # compared exactly: int == float is exact in Python
            raise NotIJson(f"{value} is held by no IEEE-754 double")
        return double
    return value


def loads_as_doubles(text: str) -> Any:
    """JSON text read as JCS reads it: an integer beyond ±(2**53 - 1) as the nearest double
    (what JSON.parse gives; jsonb prints a double of 1e16 or more as the integer it is)."""
    return json.loads(text, parse_int=_int_or_double)


def _int_or_double(text: str) -> int | float:
    number = int(text)
    return number if abs(number) <= SAFE_INTEGER else float(text)
