"""The performance tricks (`lts_events._fast`): each skips something, and must leave what it
skips as if it had not been skipped."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from lts_events._fast import gc_paused, slot_setter, trusted_constructor
from pydantic import BaseModel, ConfigDict


class Point(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    x: int
    label: str | None = None


class Mutable(BaseModel):
    x: int


@dataclass(frozen=True, slots=True)
class Pair:
    left: int
    right: int


@pytest.fixture(params=[True, False], ids=["collecting", "paused"])
def collecting(request: pytest.FixtureRequest) -> Iterator[bool]:
    was = gc.isenabled()
    wanted: bool = request.param
    (gc.enable if wanted else gc.disable)()
    yield wanted
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_inside_and_as_it_was_after(collecting: bool) -> None:
    with gc_paused():
        inside = gc.isenabled()

    assert inside is False
    assert gc.isenabled() is collecting


def test_a_nested_pause_leaves_the_collector_off_until_the_outer_one_ends(
    collecting: bool,
) -> None:
    with gc_paused():
        with gc_paused():
            pass
        between = gc.isenabled()

    assert between is False
    assert gc.isenabled() is collecting


def test_an_error_inside_leaves_the_collector_as_it_was(collecting: bool) -> None:
    with pytest.raises(ValueError, match="boom"), gc_paused():
        raise ValueError("boom")

    assert gc.isenabled() is collecting


def test_a_trusted_model_equals_the_validated_one() -> None:
    make = trusted_constructor(Point)

    trusted = make({"x": 1, "label": None})

    validated = Point(x=1, label=None)
    assert trusted == validated
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert hash(trusted) == hash(validated)


def test_a_trusted_model_is_not_validated() -> None:
    make = trusted_constructor(Point)

    unchecked = make({"x": "not a number", "label": None})

    assert unchecked.x == "not a number"  # what the caller vouched for, as given


def test_a_trusted_model_stays_frozen() -> None:
    trusted = trusted_constructor(Point)({"x": 1, "label": "a"})

    with pytest.raises(ValueError, match="frozen"):
        trusted.x = 2  # type: ignore[misc]


def test_only_a_frozen_model_can_share_its_fields_set() -> None:
    with pytest.raises(TypeError, match="frozen"):
        trusted_constructor(Mutable)


def test_a_slot_setter_sets_a_frozen_dataclass_slot() -> None:
    pair = Pair(1, 2)

    slot_setter(Pair, "right")(pair, 3)

    assert pair == Pair(1, 3)


def test_a_slot_setter_needs_the_slot() -> None:
    with pytest.raises(TypeError, match="no slot middle"):
        slot_setter(Pair, "middle")
