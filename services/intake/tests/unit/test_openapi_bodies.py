"""The alert webhooks read their body themselves (pydantic-core parses and validates it in one
pass), so their request body is documented by hand: /openapi.json must still describe what the
routes accept, self-contained (no reference to a definition the document lacks)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from lts_intake.api import build_router
from lts_intake.config import Settings

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    app = FastAPI()
    router = build_router(
        intake=SimpleNamespace(policy=None),  # type: ignore[arg-type]  # only documented here
        repository=None,  # type: ignore[arg-type]
        authenticator=lambda: None,  # type: ignore[arg-type]
        settings=Settings(),
    )
    app.include_router(router)
    return app.openapi()


@pytest.mark.parametrize(
    ("path", "fixtures"),
    [
        ("/webhooks/alertmanager", ["alertmanager_firing.json", "alertmanager_version_0.json"]),
        ("/webhooks/grafana", ["grafana_firing.json", "grafana_legacy_alert.json"]),
    ],
)
def test_an_alert_webhook_documents_the_body_it_accepts_and_its_answers(
    openapi: dict[str, Any], path: str, fixtures: list[str]
) -> None:
    operation = openapi["paths"][path]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    document = {**schema, "components": openapi["components"]}

    for name in fixtures:
        jsonschema.validate(json.loads((FIXTURES / name).read_text()), document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"status": "firing", "alerts": []}, document)
    assert "$defs" not in json.dumps(schema)
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Accepted"
    }
    assert "422" in operation["responses"]
    assert {p["name"] for p in operation["parameters"]} == {"authorization", "token"}
