"""pip-audit's JSON (`pip-audit -f json`): a dependency scan. Both shapes it has written: an
object with `dependencies` (and `fixes`), and the older bare list. Every known vulnerability of
a dependency fails the scan unless its id or one of its aliases is ignored by configuration
(as `pip-audit --ignore-vuln` would); dependencies pip-audit skipped are not vulnerabilities."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from lts_events.contracts.release.ci import CiStatus, Vulnerability
from pydantic import BaseModel, ConfigDict, ValidationError

from lts_release.ci.errors import BadInput, from_validation
from lts_release.ci.observation import MAX_NAME, text

MAX_VULNERABILITIES = 500


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Vuln(_Open):
    id: str
    fix_versions: list[str] = []
    aliases: list[str] = []
    description: str | None = None


class _Dependency(_Open):
    name: str
    version: str | None = None
    vulns: list[_Vuln] = []
    skip_reason: str | None = None


class _Report(_Open):
    dependencies: list[_Dependency]


def parse(body: bytes) -> list[Vulnerability]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput("body", f"not JSON: {error}") from None
    return vulnerabilities_of(document)


def vulnerabilities_of(document: Any) -> list[Vulnerability]:
    """Every vulnerability of every audited dependency; `BadInput` naming the field."""
    if isinstance(document, list):
        document = {"dependencies": document}  # the shape before pip-audit 2.0
    if not isinstance(document, dict):
        raise BadInput("(root)", "pip-audit JSON is an object with `dependencies` (or a list)")
    try:
        report = _Report.model_validate(document)
    except ValidationError as error:
        raise from_validation(error) from None
    return [
        Vulnerability(
            id=text(vuln.id, limit=MAX_NAME),
            aliases=tuple(text(a, limit=MAX_NAME) for a in vuln.aliases),
            package=text(dependency.name, limit=MAX_NAME),
            version=text(dependency.version, limit=MAX_NAME),
            fix_versions=tuple(text(v, limit=MAX_NAME) for v in vuln.fix_versions),
            description=text(vuln.description),
        )
        for dependency in report.dependencies
        if dependency.skip_reason is None
        for vuln in dependency.vulns
    ]


def split(
    vulnerabilities: list[Vulnerability], *, ignored_ids: Collection[str]
) -> tuple[list[Vulnerability], list[str]]:
    """The vulnerabilities that count, and the ids of those ignored by configuration."""
    ignore = {i.upper() for i in ignored_ids}
    counted: list[Vulnerability] = []
    skipped: list[str] = []
    for vulnerability in vulnerabilities:
        names = {vulnerability.id.upper(), *(a.upper() for a in vulnerability.aliases)}
        if names & ignore:
            skipped.append(vulnerability.id)
        else:
            counted.append(vulnerability)
    return counted, skipped


def status_of(counted: list[Vulnerability]) -> CiStatus:
    return CiStatus.FAILED if counted else CiStatus.PASSED
