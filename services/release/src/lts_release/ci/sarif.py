"""SARIF 2.1.0 security-scan results (bandit `-f sarif`, semgrep `--sarif`, any SARIF
producer): the findings, each with its tool, rule, effective level, the rule's
`security-severity`, where, and what it says. Findings at or above the configured level fail
the scan; suppressed results (SARIF `suppressions`, e.g. semgrep's `nosemgrep`) do not count.

A result's effective level follows SARIF 2.1.0 section 3.27.10: its own `level`; without one,
`none` when its `kind` is not `fail`; else its rule's `defaultConfiguration.level`; else
`warning` (bandit leaves `level` out for medium severity, semgrep always, CodeQL always).

A result's rule is found as SARIF 2.1.0 sections 3.27.6-3.27.7 and 3.52 say: in the tool
component `rule.toolComponent` names (an entry of `tool.extensions` by index, or one by guid or
name: CodeQL run with query packs lists their rules, default levels and `security-severity`
there, with results that carry no level), else in the driver; by `rule.index` or
`ruleIndex` (-1 is the schema's "no index"), else by guid, else by id. A result whose
`baselineState` is `absent` was in the baseline but not in this run: not a finding."""

from __future__ import annotations

import json
from typing import Any, Literal

from lts_events.contracts.release.ci import CiStatus, Finding, FindingLevel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lts_release.ci.errors import BadInput, from_validation
from lts_release.ci.observation import MAX_NAME, text

MAX_FINDINGS = 500  # findings kept as evidence, most severe first; the verdict counts them all
_RANK = {FindingLevel.NONE: 0, FindingLevel.NOTE: 1, FindingLevel.WARNING: 2, FindingLevel.ERROR: 3}
Level = Literal["error", "warning", "note", "none"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Message(_Open):
    text: str | None = None
    id: str | None = None


class _Region(_Open):
    startLine: int | None = Field(default=None, ge=1)


class _Artifact(_Open):
    uri: str | None = None


class _Physical(_Open):
    artifactLocation: _Artifact | None = None
    region: _Region | None = None


class _Location(_Open):
    physicalLocation: _Physical | None = None


class _ComponentRef(_Open):
    index: int | None = Field(default=None, ge=-1)
    guid: str | None = None
    name: str | None = None


class _RuleRef(_Open):
    id: str | None = None
    index: int | None = Field(default=None, ge=-1)
    guid: str | None = None
    toolComponent: _ComponentRef | None = None


class _Suppression(_Open):
    status: str | None = None


class _Result(_Open):
    ruleId: str | None = None
    ruleIndex: int | None = Field(default=None, ge=-1)
    rule: _RuleRef | None = None
    level: Level | None = None
    kind: str | None = None
    message: _Message
    locations: list[_Location] = []
    suppressions: list[_Suppression] | None = None
    baselineState: str | None = None


class _Configuration(_Open):
    level: Level | None = None


class _Rule(_Open):
    id: str
    guid: str | None = None
    defaultConfiguration: _Configuration | None = None
    properties: dict[str, Any] | None = None


class _Component(_Open):
    name: str | None = None
    guid: str | None = None
    rules: list[_Rule] = []


class _Driver(_Component):
    name: str


class _Tool(_Open):
    driver: _Driver
    extensions: list[_Component] = []


class _Run(_Open):
    tool: _Tool
    results: list[_Result] | None = None


class _Log(_Open):
    version: Literal["2.1.0"]
    runs: list[_Run]


def parse(body: bytes) -> tuple[Finding, ...]:
    """Every finding of every run, most severe first; `BadInput` naming the field."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInput("body", f"not JSON: {error}") from None
    return findings_of(document)


def findings_of(document: Any) -> tuple[Finding, ...]:
    if not isinstance(document, dict):
        raise BadInput("(root)", "a SARIF log is a JSON object")
    try:
        log = _Log.model_validate(document)
    except ValidationError as error:
        raise from_validation(error) from None
    found = [
        _finding(run, result)
        for run in log.runs
        for result in run.results or ()
        if not _suppressed(result) and result.baselineState != "absent"
    ]
    return tuple(sorted(found, key=lambda f: -_RANK[f.level]))


def status_of(findings: tuple[Finding, ...], *, fail_level: FindingLevel) -> CiStatus:
    threshold = _RANK[fail_level]
    return (
        CiStatus.FAILED if any(_RANK[f.level] >= threshold for f in findings) else CiStatus.PASSED
    )


def kept(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    return findings[:MAX_FINDINGS]


def _finding(run: _Run, result: _Result) -> Finding:
    rule = _rule(run, result)
    location = result.locations[0].physicalLocation if result.locations else None
    artifact = location.artifactLocation if location else None
    region = location.region if location else None
    return Finding(
        tool=text(run.tool.driver.name, limit=MAX_NAME),
        rule_id=text(result.ruleId or (rule.id if rule else None), limit=MAX_NAME) or "(no rule)",
        level=_level(result, rule),
        security_severity=_severity(rule),
        path=(text(artifact.uri, limit=1000) or None) if artifact else None,
        line=region.startLine if region else None,
        message=text(result.message.text or result.message.id),
    )


def _rule(run: _Run, result: _Result) -> _Rule | None:
    reference = result.rule or _RuleRef()
    component = _component(run.tool, reference.toolComponent)
    if component is None:
        return None
    rules = component.rules
    index = reference.index if reference.index is not None else result.ruleIndex
    if index is not None and 0 <= index < len(rules):
        return rules[index]
    if reference.guid is not None:
        by_guid = next((rule for rule in rules if rule.guid == reference.guid), None)
        if by_guid is not None:
            return by_guid
    wanted = result.ruleId or reference.id
    return next((rule for rule in rules if rule.id == wanted), None)


def _component(tool: _Tool, reference: _ComponentRef | None) -> _Component | None:
    """The tool component a rule reference points into: the driver unless it names another
    (a `toolComponentReference`'s `index` is into `tool.extensions`); None when it names a
    component the log does not have."""
    if reference is None:
        return tool.driver
    components = (tool.driver, *tool.extensions)
    if reference.index is not None and reference.index >= 0:
        extensions = tool.extensions
        return extensions[reference.index] if reference.index < len(extensions) else None
    if reference.guid is not None:
        return next((c for c in components if c.guid == reference.guid), None)
    if reference.name is not None:
        return next((c for c in components if c.name == reference.name), None)
    return tool.driver


def _level(result: _Result, rule: _Rule | None) -> FindingLevel:
    if result.level is not None:
        return FindingLevel(result.level)
    if result.kind is not None and result.kind != "fail":
        return FindingLevel.NONE
    configured = rule.defaultConfiguration.level if rule and rule.defaultConfiguration else None
    return FindingLevel(configured or "warning")


def _severity(rule: _Rule | None) -> float | None:
    """The rule's `security-severity` (GitHub's 0-10 scale), when it is a number."""
    value = (rule.properties or {}).get("security-severity") if rule else None
    try:
        severity = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return severity if severity is not None and 0 <= severity <= 10 else None


def _suppressed(result: _Result) -> bool:
    """Suppressed unless a suppression is still under review or was rejected."""
    return bool(result.suppressions) and all(
        s.status in (None, "accepted") for s in result.suppressions or ()
    )
