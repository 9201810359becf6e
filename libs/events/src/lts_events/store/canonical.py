"""Canonical JSON, the form the hash chain covers: `json.dumps(value, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`, byte for byte (`lts store verify` recomputes it with
json.dumps). orjson writes it about ten times faster; it is used wherever its bytes are the same:

- `canonical_json(value)`, any value: orjson, unless it refuses the value, its output may write a
  float differently or the value does not read back equal; then json.dumps.
- `canonical_dump(model_class, dumped)`, a model's `model_dump(mode="json")`: when the model's
  schema shows that no float can be in it (`floats_possible`), orjson alone (a JSON-mode dump
  holds only dicts, lists, str, int, bool and None, which both write alike); json.dumps only if
  orjson refuses (ints beyond 64 bits, lone surrogates)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from pydantic import BaseModel

# Subclasses of str/int/dict/list, dataclasses and datetimes are not encoded by orjson but
# handed to `default` (there is none, so it raises and json.dumps decides, as before).
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def json_dumps(value: Any) -> str:
    """The reference: what `lts_events.hashing.event_hash` hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """`json_dumps(value)`, made by orjson unless the bytes could differ: orjson refuses the
    value (ints beyond 64 bits, non-str keys, lone surrogates, subclasses, nesting deeper than
    255, objects that are not JSON), a float may be written differently (see
    `_float_form_may_differ`), or the value does not read back equal from the output (NaN and
    infinities, which orjson writes as null; UUIDs and enums, which json.dumps refuses)."""
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json_dumps(value)
    if _float_form_may_differ(out) or orjson.loads(out) != value:
        return json_dumps(value)
    return out.decode()


def canonical_dump(model_class: type[BaseModel], dumped: Any) -> str:
    """`json_dumps(dumped)` for `dumped = instance.model_dump(mode="json")` of `model_class`."""
    if floats_possible(model_class):
        return canonical_json(dumped)
    return float_free_json(dumped)


def float_free_json(value: Any) -> str:
    """`json_dumps(value)` for JSON without floats (dicts, lists, str, int, bool, None)."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json_dumps(value)


# -- floats in orjson's output ---------------------------------------------------------------

_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_INTEGER_PART = b"0" * 17 + b"."  # 1e16 or more, written positionally
_EXPONENT_SHAPE = bytes.maketrans(b".[:]},+E", b"::::::-e")  # a number's start or end -> ":"
_DIGITS = b"0123456789"
_EXPONENT_SHAPES = (b":e:", b":e-:", b"-e:", b"-e-:")


def _float_form_may_differ(out: bytes) -> bool:
    """Whether orjson's output may hold a float that json.dumps (`float.__repr__`) writes
    otherwise. Both write the shortest digits that read back as the same float, positionally
    for 1e-4 <= |x| < 1e16, where they agree; outside it repr uses an exponent (1e-05, 1e+16)
    and orjson may not, or another one (0.00001, 1e-5). So any number with an exponent,
    written 0.0000... or with 17 digits before its point counts (the same shapes inside a
    string merely cost a json.dumps), and so does a bare number (not an object or array)."""
    if out[:1] not in b"{[" or b"0.0000" in out or _LONG_INTEGER_PART in out.translate(_AS_ZERO):
        return True
    # Without its digits, a number with an exponent is an `e` right after where the number
    # starts (`:` `,` `[`), its minus sign or its `.`, then its sign or not, then where it
    # ends (`,` `]` `}`). An id or a word with an e among digits goes on with a letter, a `-`
    # or a quote; `true`/`false` have a letter before the e.
    shape = out.translate(_EXPONENT_SHAPE, _DIGITS)
    return any(exponent in shape for exponent in _EXPONENT_SHAPES)


# -- can a model's JSON-mode dump hold a float? ------------------------------------------------

_NO_FLOAT_LEAVES = frozenset({"str", "int", "bool", "none", "datetime", "date", "time", "uuid"})
_INNER = {  # schema types whose JSON form is made of their inner schemas' forms
    "nullable": ("schema",),
    "default": ("schema",),
    "model": ("schema",),
    "model-field": ("schema",),
    "dataclass": ("schema",),
    "dataclass-field": ("schema",),
    "function-after": ("schema",),
    "function-before": ("schema",),
    "function-wrap": ("schema",),
    "list": ("items_schema",),
    "set": ("items_schema",),
    "frozenset": ("items_schema",),
    "dict": ("keys_schema", "values_schema"),
    "lax-or-strict": ("lax_schema", "strict_schema"),
    "computed-field": ("return_schema",),
}
_floats_possible: dict[type[BaseModel], bool] = {}


def floats_possible(model_class: type[BaseModel]) -> bool:
    """False only when the model's core schema shows that its `model_dump(mode="json")` can
    hold no float: every part is a str, int, bool, None, date/time, UUID, str or int enum or
    literal, or a list, tuple, set, dict, union or model of those, with no custom serializer,
    no extra fields and no numeric date/time setting. Anything else counts as possible."""
    found = _floats_possible.get(model_class)
    if found is None:
        schema = model_class.__pydantic_core_schema__
        found = _floats_possible[model_class] = not _float_free(schema, _definitions(schema), set())
    return found


def _float_free(schema: Mapping[str, Any], definitions: dict[str, Any], seen: set[str]) -> bool:
    if "serialization" in schema or not _config_float_free(schema.get("config") or {}):
        return False
    kind = schema.get("type")
    if kind in _NO_FLOAT_LEAVES:
        return True
    if kind in ("enum", "literal"):  # written as the members' values / the expected values
        values = [m.value for m in schema["members"]] if kind == "enum" else schema["expected"]
        return all(type(value) in (str, int, bool, type(None)) for value in values)
    if kind in _INNER:
        inner = [schema.get(key) for key in _INNER[kind]]
        return all(part is not None and _float_free(part, definitions, seen) for part in inner)
    if kind == "definition-ref":
        ref = schema["schema_ref"]
        if ref in seen:
            return True  # a cycle: decided by the rest of the schema
        seen.add(ref)
        return ref in definitions and _float_free(definitions[ref], definitions, seen)
    return all(
        isinstance(part, Mapping) and _float_free(part, definitions, seen)
        for part in _composite_parts(schema)
    )


def _composite_parts(schema: Mapping[str, Any]) -> Iterator[Any]:
    """The inner schemas of a composite schema; a None for any kind not known to be safe."""
    kind = schema.get("type")
    if kind == "definitions":
        yield schema["schema"]
    elif kind == "model-fields":
        if schema.get("extras_schema") is not None:
            yield schema["extras_schema"]
        yield from schema["fields"].values()
        yield from schema.get("computed_fields") or ()
    elif kind == "dataclass-args":
        yield from schema["fields"]
        yield from schema.get("computed_fields") or ()
    elif kind == "tuple":
        yield from schema.get("items_schema", [None])
    elif kind == "union":
        yield from (c[0] if isinstance(c, tuple) else c for c in schema["choices"])
    elif kind == "tagged-union":
        yield from schema["choices"].values()
    else:
        yield None  # any, float, decimal, timedelta, bytes, plain functions, ...


def _config_float_free(config: Mapping[str, Any]) -> bool:
    """Extra fields can hold anything; `ser_json_temporal` may write dates as numbers."""
    return config.get("extra_fields_behavior") != "allow" and config.get(
        "ser_json_temporal", "iso8601"
    ) in ("iso8601",)


def _definitions(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Every `definitions` entry anywhere in the schema, by ref."""
    found: dict[str, Any] = {}
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if node.get("type") == "definitions":
                found.update((d["ref"], d) for d in node["definitions"])
            stack.extend(v for k, v in node.items() if k not in ("cls", "metadata", "default"))
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return found
