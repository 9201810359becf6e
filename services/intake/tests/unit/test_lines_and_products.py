"""Intake maps versions onto the one support matrix (shared with triage) and opens tickets only
for advisories about the product's own packages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from lts_events.support import DEFAULT_LINES
from lts_intake.config import Settings
from lts_intake.formats import GithubSecurityAdvisoryEvent, OsvRecord, ReportIn
from lts_intake.model import Ignore, OpenTicket
from lts_intake.standardize import IntakePolicy, from_github_advisory, from_osv, from_report

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
POLICY = IntakePolicy()


def fixture(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)


def reported(*versions: str) -> OpenTicket:
    report = ReportIn.model_validate(
        {"title": "Export fails", "description": "see title", "affected_versions": versions}
    )
    return from_report(report, reporter="rita", contact=None, now=NOW, policy=POLICY)


@pytest.mark.parametrize(
    ("versions", "lines"),
    [
        (["1.4.2"], ["release-lts/v1.4"]),
        ([">=1.2,<1.4.5"], ["release-lts/v1.4", "release-lts/v1.3"]),
        (["1.5.0"], []),  # not an LTS line
        (["1.2.9"], []),  # support ended 2026-06-30
    ],
)
def test_reported_versions_map_onto_the_supported_lines_of_the_one_matrix(
    versions: list[str], lines: list[str]
) -> None:
    assert reported(*versions).draft.affected_lts_lines == lines


def test_a_blank_version_is_dropped_and_matches_no_line() -> None:
    draft = reported(" ", "1.4.2").draft

    assert (draft.affected_versions, draft.affected_lts_lines) == (["1.4.2"], ["release-lts/v1.4"])
    assert reported(" ").draft.affected_lts_lines == []


def test_intake_uses_the_one_support_matrix_by_default() -> None:
    assert POLICY.lines == DEFAULT_LINES
    assert Settings().policy().lines == DEFAULT_LINES


def test_the_product_package_is_configured_by_default() -> None:
    assert Settings().policy().product_packages == ("ltsapp",)


def test_an_osv_record_about_another_package_opens_no_ticket() -> None:
    record = OsvRecord.model_validate(fixture("PYSEC-2021-66.yaml"))  # jinja2

    command = from_osv(record, now=NOW, policy=POLICY)

    assert isinstance(command, Ignore)
    assert "jinja2" in command.reason


def test_an_osv_record_about_a_product_package_opens_a_ticket() -> None:
    record = OsvRecord.model_validate(fixture("PYSEC-2021-66.yaml"))

    command = from_osv(record, now=NOW, policy=IntakePolicy(product_packages=("Jinja2",)))

    assert isinstance(command, OpenTicket)
    assert command.draft.affected_versions == ["jinja2 <2.11.3"]


def test_a_github_advisory_about_another_package_opens_no_ticket() -> None:
    event = GithubSecurityAdvisoryEvent.model_validate(
        fixture("github_security_advisory_published.json")  # django
    )

    assert isinstance(from_github_advisory(event, now=NOW, policy=POLICY), Ignore)


@pytest.mark.parametrize(
    ("events", "lines"),
    [
        ([{"introduced": "0"}, {"fixed": "1.4.0"}], ["release-lts/v1.3"]),
        ([{"introduced": "1.4.0"}, {"fixed": "1.4.7"}], ["release-lts/v1.4"]),
        (
            [{"introduced": "1.3.2"}, {"last_affected": "1.5.0"}],
            ["release-lts/v1.4", "release-lts/v1.3"],
        ),
        ([{"introduced": "1.6.0"}], []),
        ([{"introduced": "0"}], ["release-lts/v1.4", "release-lts/v1.3"]),
    ],
)
def test_osv_intervals_of_the_product_map_onto_the_lines_they_touch(
    events: list[dict[str, str]], lines: list[str]
) -> None:
    record = OsvRecord.model_validate(
        {
            "id": "PYSEC-2026-1",
            "modified": "2026-11-20T00:00:00Z",
            "affected": [
                {
                    "package": {"name": "ltsapp", "ecosystem": "PyPI"},
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                }
            ],
        }
    )

    command = from_osv(record, now=NOW, policy=POLICY)

    assert isinstance(command, OpenTicket)
    assert command.draft.affected_lts_lines == lines
