"""JSON Schemas of every registered event, for subscribers written in other languages.

One file per event type (`<type>.json`, the schema of the CloudEvents `data`) plus `index.json`.
The checked-in copies live in `libs/events/schemas/`; `lts schemas check` fails when they drift."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lts_events.event import REGISTRY, Event

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
INDEX = "index.json"


def default_directory() -> Path:
    """`libs/events/schemas/` next to this package's source tree."""
    return Path(__file__).resolve().parents[2] / "schemas"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="serialization")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{cls.type}.json",
        "x-cloudevents-type": cls.type,
        "x-schema-version": cls.schema_version,
        **schema,
    }


def contract_events() -> dict[str, type[Event]]:
    """The events of `lts_events.contracts` (not the ones tests register on the side)."""
    import lts_events.contracts  # noqa: F401  (registers every event)

    return {
        type_: cls
        for type_, cls in REGISTRY.all().items()
        if cls.__module__.startswith("lts_events.contracts.")
    }


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render(events: Mapping[str, type[Event]] | None = None) -> dict[str, str]:
    """File name -> content for every registered event (contracts imported first) and the index."""
    if events is None:
        events = contract_events()
    files = {f"{type_}.json": _dump(event_schema(cls)) for type_, cls in sorted(events.items())}
    index = {
        "events": [
            {"type": type_, "schema_version": cls.schema_version, "file": f"{type_}.json",
             "title": cls.__name__}
            for type_, cls in sorted(events.items())
        ]
    }  # fmt: skip
    files[INDEX] = _dump(index)
    return files


def export(directory: Path | None = None) -> list[Path]:
    """Write every schema and remove files of events that no longer exist."""
    target = directory or default_directory()
    target.mkdir(parents=True, exist_ok=True)
    rendered = render()
    for stale in set(p.name for p in target.glob("*.json")) - set(rendered):
        (target / stale).unlink()
    written = []
    for name, content in rendered.items():
        path = target / name
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        written.append(path)
    return written


def drifted(directory: Path | None = None) -> list[str]:
    """Names of files that differ from a fresh export: changed, missing or stale."""
    target = directory or default_directory()
    rendered = render()
    on_disk = {p.name: p.read_text() for p in target.glob("*.json")} if target.exists() else {}
    names = set(rendered) | set(on_disk)
    return sorted(name for name in names if rendered.get(name) != on_disk.get(name))
