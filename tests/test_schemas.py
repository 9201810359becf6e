"""The JSON Schemas checked in under libs/events/schemas/ are what the event models export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from lts_events import schemas
from lts_events.event import REGISTRY, Event


def test_checked_in_schemas_equal_the_exported_ones() -> None:
    drifted = schemas.drifted()

    assert drifted == [], f"run `uv run lts schemas export`; drifted: {drifted}"


def test_every_registered_event_is_listed_in_the_index() -> None:
    index = json.loads((schemas.default_directory() / schemas.INDEX).read_text())

    listed = {entry["type"] for entry in index["events"]}

    assert listed == set(schemas.contract_events())


def test_a_changed_schema_file_is_reported_as_drifted(tmp_path: Path) -> None:
    schemas.export(tmp_path)
    victim = tmp_path / "lts.intake.ticket_opened.json"
    victim.write_text(victim.read_text().replace('"type": "object"', '"type": "array"', 1))
    (tmp_path / "lts.intake.gone.json").write_text("{}\n")

    drifted = schemas.drifted(tmp_path)

    assert drifted == ["lts.intake.gone.json", "lts.intake.ticket_opened.json"]


def test_events_registered_outside_the_contracts_are_not_exported() -> None:
    class NotedInATest(Event):
        type: ClassVar[str] = "lts.test.schemas.noted_in_a_test"
        text: str

    rendered = schemas.render()

    assert REGISTRY.knows(NotedInATest.type)
    assert f"{NotedInATest.type}.json" not in rendered


def test_an_exported_schema_describes_the_event_data() -> None:
    schema = json.loads((schemas.default_directory() / "lts.intake.ticket_opened.json").read_text())

    assert schema["x-cloudevents-type"] == "lts.intake.ticket_opened"
    assert schema["type"] == "object"
    assert "ticket_id" in schema["properties"]
