"""The base of every domain event, and the registry from stable type string to class."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]


class Event(BaseModel):
    """An immutable fact. Subclasses set a stable `type` string (never a Python path) and bump
    `schema_version` when their shape changes, registering an upcaster from the old shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            REGISTRY.register(cls)

    def to_data(self) -> JsonDict:
        return self.model_dump(mode="json")


class UnknownEventType(LookupError):
    """The type string is not in the registry."""


class EventRegistry:
    def __init__(self) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type[Event]) -> None:
        existing = self._classes.get(cls.type)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"event type {cls.type!r} registered twice: {existing} and {cls}")
        self._classes[cls.type] = cls

    def upcaster(self, type_: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning `type_` data of `from_version` into `from_version + 1`."""

        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_, from_version)] = fn
            return fn

        return register

    def class_for(self, type_: str) -> type[Event]:
        try:
            return self._classes[type_]
        except KeyError:
            raise UnknownEventType(f"unknown event type {type_!r}") from None

    def knows(self, type_: str) -> bool:
        return type_ in self._classes

    def upcast(self, type_: str, schema_version: int, data: Mapping[str, Any]) -> JsonDict:
        """Apply upcasters until the data has the current schema version of its class."""
        current = self.class_for(type_).schema_version
        upgraded = dict(data)
        for version in range(schema_version, current):
            step = self._upcasters.get((type_, version))
            if step is None:
                raise LookupError(f"no upcaster for {type_!r} from schema version {version}")
            upgraded = step(upgraded)
        return upgraded

    def decode(self, type_: str, schema_version: int, data: Mapping[str, Any]) -> Event:
        """Validate stored or received data as its event class, upcasting old shapes first."""
        cls = self.class_for(type_)
        return cls.model_validate(self.upcast(type_, schema_version, data))

    def all(self) -> Mapping[str, type[Event]]:
        return dict(sorted(self._classes.items()))


REGISTRY = EventRegistry()
