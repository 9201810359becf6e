"""The advisory's OSV record validates against the OSV JSON schema (vendored in osv/, source
noted in osv/SOURCE.md), with one range per LTS line whose fix is out."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from comms_builders import T0, candidate, drafter, published, rolled_back, security_ticket
from lts_comms.projection import release_view, ticket_view

SCHEMA = json.loads((Path(__file__).parent / "osv" / "schema.json").read_text())


def validate(record: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(record)


def test_the_advisory_of_two_lts_lines_is_a_valid_osv_record_with_a_range_per_line() -> None:
    ticket = ticket_view(42, [security_ticket()])
    line_14 = release_view("1.4.3", [candidate("1.4.3"), published("1.4.3")])
    line_13 = release_view(
        "1.3.9", [candidate("1.3.9"), published("1.3.9", T0 + timedelta(hours=3))]
    )

    record = drafter().advisory(ticket, [line_14, line_13]).osv

    assert record is not None
    validate(record)
    ranges = {
        a["database_specific"]["lts_line"]: a["ranges"][0]["events"] for a in record["affected"]
    }
    assert ranges == {
        "1.4": [{"introduced": "1.4.0"}, {"fixed": "1.4.3"}],
        "1.3": [{"introduced": "1.3.0"}, {"fixed": "1.3.9"}],
    }
    assert record["id"] == "x_LTS-42"
    assert record["aliases"] == ["CVE-2026-1234"]
    assert record["modified"].endswith("Z")


def test_a_rolled_back_fix_is_not_claimed_as_fixed() -> None:
    ticket = ticket_view(42, [security_ticket()])
    release = release_view("1.4.3", [candidate(), published(), rolled_back()])

    record = drafter().advisory(ticket, [release]).osv

    assert record is not None
    validate(record)
    assert record["affected"] == []


def test_a_fix_still_in_a_candidate_is_not_claimed_as_fixed() -> None:
    ticket = ticket_view(42, [security_ticket()])

    record = drafter().advisory(ticket, [release_view("1.4.3", [candidate()])]).osv

    assert record is not None
    validate(record)
    assert record["affected"] == []


def test_an_id_without_the_local_prefix_is_refused_by_the_schema() -> None:
    record = drafter().advisory(ticket_view(42, [security_ticket()]), []).osv
    assert record is not None

    with pytest.raises(jsonschema.ValidationError):
        validate({**record, "id": "LTS-42"})
