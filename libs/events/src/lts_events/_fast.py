"""The performance tricks of the runtime, in one place, each named for what it skips. The rest of
the code calls these and reads normally; every use was measured (see the callers' comments).

- `trusted_constructor`: a pydantic model from values already valid, skipping validation.
- `slot_setter`: the descriptor setter `object.__setattr__` looks up on every call, looked up
  once (frozen models and dataclasses, and `UUID`, refuse their own `__setattr__`).
- `gc_paused`: the cyclic garbage collector off around code that allocates many objects and
  no cycles.

aiokafka's private API, the other trick, is wrapped in `lts_events.kafka` beside its pin."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel

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
