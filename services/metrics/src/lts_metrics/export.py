"""The API's answers as JSON or, with `?format=csv`, as CSV for spreadsheets and BI tools: one
line per row, nested fields flattened to `field.key` columns, lists joined with `;`."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


AsFormat = Annotated[Format, Query(alias="format", description="json (default) or csv")]


def respond(answer: BaseModel | Sequence[BaseModel], as_format: Format, *, name: str) -> Response:
    if as_format is Format.JSON:
        return JSONResponse(jsonable_encoder(answer))
    rows = [answer] if isinstance(answer, BaseModel) else list(answer)
    return Response(
        to_csv([flatten(jsonable_encoder(r)) for r in rows]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(flatten(item, f"{name}."))
        elif isinstance(item, list):
            flat[name] = ";".join("" if x is None else str(x) for x in item)
        else:
            flat[name] = item
    return flat


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
