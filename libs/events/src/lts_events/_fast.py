"""The performance tricks of the runtime, in one place, each named for what it skips. The rest of
the code calls these and reads normally; every use was measured (see the callers' comments).

- `trusted_constructor`: a pydantic model from values already valid, skipping validation.
- `trusted_decoder`: a pydantic model from the JSON data it dumped, skipping validation.
- `extra_carrier`: a pydantic model of extra values only, holding a dict as it is, skipping
  validation (there is nothing to validate) and the copy.
- `slot_setter`: the descriptor setter `object.__setattr__` looks up on every call, looked up
  once (frozen models and dataclasses, and `UUID`, refuse their own `__setattr__`).
- `gc_paused`: the cyclic garbage collector off around code that allocates many objects and
  no cycles.
- `json_loads`: `json.loads`'s value, parsed by orjson wherever the two agree.

aiokafka's private API, the other trick, is wrapped in `lts_events.kafka` beside its pin."""

from __future__ import annotations

import gc
import json
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, TypeAdapter

M = TypeVar("M", bound=BaseModel)
SlotSetter = Callable[[Any, Any], None]


def slot_setter(cls: type, name: str) -> SlotSetter:
    """`setter(instance, value)` doing what `object.__setattr__(instance, name, value)` does
    (the data descriptor of `name` in the class's MRO), without finding it again per call."""
    for klass in cls.__mro__:
        if name in vars(klass):
            setter: SlotSetter = vars(klass)[name].__set__
            return setter
    raise TypeError(f"{cls.__name__} has no slot {name}")


def trusted_constructor(model: type[M]) -> Callable[[dict[str, Any]], M]:
    """`make(values)`: the instance `model.model_construct(**values)` makes when `values` holds
    every field with a valid value, without validating it and without `model_construct`'s
    per-field Python loop, which costs more than the rest of decoding a stored event. Every
    field counts as set, as after validation; `values` becomes the instance's `__dict__`.

    Only for values the code itself made of the right types (a store's columns of fixed SQL
    types, validated parts). The model must be frozen: one fields set then serves every
    instance, since pydantic never adds to a frozen model's (a copy gets its own)."""
    if not model.model_config.get("frozen"):
        raise TypeError(f"trusted {model.__name__} shares one fields set: it must stay frozen")
    if (
        model.__pydantic_post_init__ is not None
        or model.__private_attributes__
        or model.model_config.get("extra") == "allow"
    ):
        raise TypeError(f"{model.__name__} needs pydantic's own construction")
    fields_set = set(model.model_fields)
    new = object.__new__
    set_dict = slot_setter(model, "__dict__")
    set_fields_set = slot_setter(model, "__pydantic_fields_set__")
    set_extra = slot_setter(model, "__pydantic_extra__")
    set_private = slot_setter(model, "__pydantic_private__")

    def make(values: dict[str, Any]) -> M:
        instance: M = new(model)
        set_dict(instance, values)
        set_fields_set(instance, fields_set)
        set_extra(instance, None)
        set_private(instance, None)
        return instance

    return make


Convert = Callable[[Any], Any]


def trusted_decoder(model: type[M]) -> Callable[[Mapping[str, Any]], M]:
    """`decode(data)`: the instance `model.model_validate(data)` makes of data the model dumped
    as JSON (`model_dump(mode="json")`, then stored and parsed back), without validating it:
    only what JSON does not carry is converted (datetimes from ISO text, enum members from
    values, tuples from lists, nested models by their own decoder); strings, numbers, lists and
    dicts are taken as they are (the instance shares the data's lists and dicts).

    Only for data the model itself produced, e.g. an event store's rows, validated when they
    were appended. Data of another shape (a field missing or added, a value that does not
    convert) is validated by pydantic instead, which raises its `ValidationError` when invalid;
    a value of the wrong JSON type that converts (a number in a str field) is not caught."""
    make = trusted_constructor(model)
    names = set(model.model_fields)
    converted = [
        (name, convert)
        for name, info in model.model_fields.items()
        if (convert := _converter(info.annotation)) is not None
    ]
    validate = model.model_validate

    def decode(data: Mapping[str, Any]) -> M:
        if data.keys() != names:
            return validate(data)
        values = dict(data)
        try:
            for name, convert in converted:
                values[name] = convert(values[name])
        except (ValueError, KeyError, TypeError):
            return validate(data)
        return make(values)

    return decode


_AS_JSON = (str, int, bool, float, Any)


def _converter(annotation: Any) -> Convert | None:
    """How to make a field's value from its JSON form; None: the JSON value is the value."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation in _AS_JSON or origin is Literal:
        return None
    if annotation is datetime:
        return datetime.fromisoformat
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _members(annotation).__getitem__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return trusted_decoder(annotation)
    if origin in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        other = next(a for a in args if a is not type(None))
        if isinstance(other, type) and issubclass(other, Enum):
            return {None: None, **_members(other)}.__getitem__
        inner = _converter(other)
        return None if inner is None else _optional(inner)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _converter(args[0])
        return tuple if item is None else _each(item, tuple)
    if origin is list and _converter(args[0]) is None:
        return None
    if origin is dict and all(_converter(a) is None for a in args):
        return None
    return TypeAdapter(annotation).validate_python  # anything else: pydantic's own


def _members(enum: type[Enum]) -> dict[Any, Enum]:
    return {member.value: member for member in enum}


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _each(convert: Convert, container: Callable[[Any], Any]) -> Convert:
    return lambda values: container(map(convert, values))


def extra_carrier(model: type[M]) -> Callable[[type[M], dict[str, Any]], M]:
    """`make(cls, values)`: the instance `cls.model_validate(values)` makes, for `cls` a
    subclass of `model` without fields, kept as they are in its extra values (`extra="allow"`):
    validation has nothing to check there but copies the dict, value by value. Here `values`
    itself becomes the extra values (never change it afterwards; the model is frozen)."""
    if model.model_fields or model.model_config.get("extra") != "allow":
        raise TypeError(f"{model.__name__} must have no fields and allow extra values")
    if not model.model_config.get("frozen"):
        raise TypeError(f"{model.__name__} shares its values: it must stay frozen")
    if model.__pydantic_post_init__ is not None or model.__private_attributes__:
        raise TypeError(f"{model.__name__} needs pydantic's own construction")
    new = object.__new__
    set_dict = slot_setter(model, "__dict__")
    set_fields_set = slot_setter(model, "__pydantic_fields_set__")
    set_extra = slot_setter(model, "__pydantic_extra__")
    set_private = slot_setter(model, "__pydantic_private__")

    def make(cls: type[M], values: dict[str, Any]) -> M:
        instance: M = new(cls)
        set_dict(instance, {})
        set_fields_set(instance, set(values))
        set_extra(instance, values)
        set_private(instance, None)
        return instance

    return make


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside the block, back as it was after (on only if it
    was on: blocks nest). For blocks that make many tracked objects and no cycle: left on, the
    collector runs every 700 allocations and carries them through its generations into the
    oldest, whose passes walk the whole heap. Their garbage is freed by reference counting
    regardless; the first allocation after the block collects the young generation once."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# 19 digits in a row: where an integer may lie outside orjson's exact range (-2**63 .. 2**64 - 1;
# beyond it orjson gives a float, json.loads the integer). A long run of decimals or of digits
# in a string counts too, and is only parsed by the slower way. Found as 19 zeros in the text
# with every digit made a zero: 0.3 µs for a 500-byte event, where a regular expression took 3.6.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def json_loads(value: bytes) -> Any:
    """`json.loads(value)`: the same values of the same types, parsed by orjson (about a third of
    the time per CloudEvent's data) unless the text may hold an integer beyond 64 bits
    (`_NINETEEN_DIGITS`) or orjson refuses it where `json.loads` takes it (NaN and Infinity,
    numbers overflowing a double, lone surrogates, UTF-16 or UTF-32 text): then `json.loads`,
    which also raises what it raises for invalid JSON. A property test holds the two equal."""
    if _NINETEEN_DIGITS not in value.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    return json.loads(value)
