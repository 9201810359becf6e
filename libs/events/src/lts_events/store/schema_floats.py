"""Where a pydantic model's JSON-mode dump (`model_dump(mode="json")`) can hold a float, read
from its core schema: the store writes float-free JSON with orjson alone (see `canonical`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

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
_WRAPPERS = ("nullable", "default", "function-after", "function-before", "function-wrap")
_float_fields: dict[type[BaseModel], frozenset[str] | None] = {}


def float_fields(model_class: type[BaseModel]) -> frozenset[str] | None:
    """The top-level keys of the model's JSON-mode dump whose value may be a float (empty: no
    float anywhere); None when a float may be deeper in, or the schema holds something not
    known to be free of floats. Free of floats: str, int, bool, None, date/time, UUID, str or
    int enums and literals, and lists, tuples, sets, dicts, unions and models of those, with
    no custom serializer, no extra fields and no numeric date/time setting."""
    if model_class not in _float_fields:
        schema = model_class.__pydantic_core_schema__
        _float_fields[model_class] = _top_level_floats(schema, _definitions(schema))
    return _float_fields[model_class]


def floats_possible(model_class: type[BaseModel]) -> bool:
    return float_fields(model_class) != frozenset()


def _top_level_floats(
    schema: Mapping[str, Any], definitions: dict[str, Any]
) -> frozenset[str] | None:
    while schema.get("type") in ("definitions", "definition-ref"):
        if schema["type"] == "definitions":
            schema = schema["schema"]
        else:
            schema = definitions.get(schema["schema_ref"], {})
    if schema.get("type") != "model" or "serialization" in schema:
        return None
    fields = schema["schema"]
    if not _config_float_free(schema.get("config") or {}) or fields.get("type") != "model-fields":
        return None
    if fields.get("extras_schema") is not None:
        return None
    parts = list(fields["fields"].items())
    parts += [(c["property_name"], c) for c in fields.get("computed_fields") or ()]
    keys: set[str] = set()
    for name, part in parts:
        if _float_free(part, definitions, set()):
            continue
        if "serialization_alias" in part or "alias" in part or not _float_or_free(part):
            return None  # a float deeper in, or under a key other than the field's name
        keys.add(name)
    return frozenset(keys)


def _float_or_free(schema: Mapping[str, Any]) -> bool:
    """A field whose JSON form is a float or something free of floats."""
    if "serialization" in schema:
        return False
    kind = schema.get("type")
    if kind == "float":
        return True
    if kind == "model-field":
        return _float_or_free(schema["schema"])
    if kind == "computed-field":
        return _float_or_free(schema["return_schema"])
    if kind in _WRAPPERS:
        return _float_or_free(schema["schema"])
    if kind == "union":
        choices = [c[0] if isinstance(c, tuple) else c for c in schema["choices"]]
        return all(_float_or_free(c) or _float_free(c, {}, set()) for c in choices)
    return False


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
