"""The performance tricks (`lts_events._fast`): each skips something, and must leave what it
skips as if it had not been skipped."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import pytest
from lts_events import contracts
from lts_events._fast import (
    extra_carrier,
    gc_paused,
    slot_setter,
    trusted_constructor,
    trusted_decoder,
)
from lts_events.event import REGISTRY
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import from_json


class Point(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    x: int
    label: str | None = None


class Mutable(BaseModel):
    x: int


class Extras(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class ExtrasOfAKind(Extras):
    pass


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


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    at: datetime | None = None


class Everything(BaseModel):
    """A field of every kind the decoder converts or takes as it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    number: int
    ratio: float | None
    flag: bool
    literal: Literal["a", "b"]
    at: datetime
    maybe_at: datetime | None
    colour: Colour
    maybe_colour: Colour | None
    colours: tuple[Colour, ...]
    words: tuple[str, ...]
    listed: list[str]
    mapping: dict[str, Any]
    part: Part
    parts: tuple[Part, ...]
    either: int | str  # no converter of its own: pydantic's


EVERYTHING = Everything(
    text="t",
    number=3,
    ratio=0.5,
    flag=True,
    literal="b",
    at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    maybe_at=None,
    colour=Colour.RED,
    maybe_colour=Colour.BLUE,
    colours=(Colour.BLUE, Colour.RED),
    words=("x", "y"),
    listed=["l"],
    mapping={"k": [1, {"n": None}]},
    part=Part(name="p", at=datetime(2026, 1, 1, tzinfo=UTC)),
    parts=(Part(name="q"),),
    either="seven",
)


def stored(model: BaseModel) -> dict[str, Any]:
    """The model's data as a store gives it back: dumped as JSON, parsed."""
    data: dict[str, Any] = from_json(model.model_dump_json())
    return data


def test_a_decoded_model_equals_the_validated_one() -> None:
    data = stored(EVERYTHING)

    decoded = trusted_decoder(Everything)(data)

    validated = Everything.model_validate(data)
    assert decoded == validated == EVERYTHING
    assert decoded.model_dump_json() == validated.model_dump_json()
    assert type(decoded.at) is datetime
    assert type(decoded.colours) is tuple
    assert type(decoded.colours[0]) is Colour
    assert type(decoded.parts[0]) is Part


def test_data_of_another_shape_is_validated() -> None:
    data = stored(EVERYTHING)
    del data["maybe_at"]  # a required field missing

    with pytest.raises(ValidationError, match="maybe_at"):
        trusted_decoder(Everything)(data)


def test_a_value_that_does_not_convert_is_validated() -> None:
    data = {**stored(EVERYTHING), "colour": "green"}

    with pytest.raises(ValidationError, match="colour"):
        trusted_decoder(Everything)(data)


def test_a_nested_model_of_another_shape_is_validated() -> None:
    data = {**stored(EVERYTHING), "part": {"name": "p", "at": None, "extra": 1}}

    with pytest.raises(ValidationError, match="extra"):
        trusted_decoder(Everything)(data)


def test_every_contract_event_class_has_a_decoder() -> None:
    classes = [
        cls for cls in REGISTRY.all().values() if cls.__module__.startswith(contracts.__name__)
    ]

    decoders = [trusted_decoder(cls) for cls in classes]

    assert len(decoders) == len(classes) > 50


def test_an_extra_carrier_equals_the_validated_model() -> None:
    values = {"x": 1, "nested": {"a": [1.5, None]}, "type": "t"}

    carried = extra_carrier(Extras)(ExtrasOfAKind, values)

    validated = ExtrasOfAKind.model_validate(values)
    assert type(carried) is ExtrasOfAKind
    assert carried == validated
    assert carried.model_fields_set == validated.model_fields_set
    assert carried.model_dump_json() == validated.model_dump_json()


def test_an_extra_carrier_holds_the_dict_itself() -> None:
    values = {"x": 1}

    carried = extra_carrier(Extras)(Extras, values)

    assert carried.__pydantic_extra__ is values


def test_only_a_frozen_model_of_extras_only_can_carry_a_dict() -> None:
    with pytest.raises(TypeError, match="no fields"):
        extra_carrier(Point)
