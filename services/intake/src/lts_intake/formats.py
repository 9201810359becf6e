"""The input formats intake accepts, as their producers send them (pydantic models: the HTTP API
validates against them and answers field-level 422s; they also document the OpenAPI schema)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from lts_events.contracts.common import Severity
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    Tag,
)

_Open = ConfigDict(extra="allow", frozen=True)

CveId = Annotated[str, Field(pattern=r"^\s*[Cc][Vv][Ee]-\d{4}-\d{4,}\s*$", max_length=40)]


def _utc_if_naive(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# RFC 3339 (Alertmanager, Grafana, OSV, GitHub) always carries an offset; senders imitating them
# write `datetime.utcnow().isoformat()`, which has none. Read as UTC, as Alertmanager's own API
# does (go-openapi strfmt.ParseDateTime: layouts without a zone parse in DefaultTimeLocation,
# time.UTC): a naive time compared with an aware one would raise instead.
Timestamp = Annotated[datetime, AfterValidator(_utc_if_naive)]


# --- people ----------------------------------------------------------------------------------


class ReportIn(BaseModel):
    """The ticket template of the LTS process. Reporter and contact come from the caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3, max_length=300)
    description: str = Field(min_length=1, max_length=100_000)
    kind: Literal["bug", "security", "feature"] = "bug"
    reproduction_steps: str | None = Field(default=None, max_length=100_000)
    logs: str | None = Field(default=None, max_length=500_000)
    environment: dict[str, str] | str | None = None
    python_version: str | None = Field(default=None, pattern=r"^\d+\.\d+(\.\d+)?\S*$")
    package_versions: dict[str, str] | str | None = None
    traceback: str | None = Field(default=None, max_length=500_000)
    test_case: str | None = Field(default=None, max_length=100_000)
    affected_versions: list[str] = Field(default_factory=list, max_length=100)
    severity: Severity | None = Field(default=None, description="The reporter's guess")
    cve_ids: list[CveId] = Field(
        default_factory=list,
        max_length=50,
        description="The CVE this report is about, e.g. CVE-2024-45230: it links the report to "
        "that CVE's ticket (a CVE merely mentioned in the text does not)",
    )
    ci_links: list[HttpUrl] = Field(default_factory=list, max_length=50)
    links: list[HttpUrl] = Field(default_factory=list, max_length=50)
    contact: str | None = Field(default=None, max_length=300, description="Defaults to the caller")


# --- alerts ----------------------------------------------------------------------------------

AlertStatus = Literal["firing", "resolved"]


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


class AlertIn(BaseModel):
    """One alert of an Alertmanager or Grafana notification. Older Alertmanager releases and
    third-party senders leave out `status`, `endsAt` and `fingerprint`: `standardize` derives
    them as Alertmanager does. Timestamps are RFC 3339 with 0 to 9 fractional digits (Go writes
    nanoseconds with trailing zeros trimmed); they are kept to the microsecond."""

    model_config = _Open

    status: AlertStatus | None = None
    labels: dict[str, str]
    annotations: dict[str, str] | None = None
    startsAt: Timestamp
    endsAt: Annotated[Timestamp | None, BeforeValidator(_blank_is_none)] = None
    generatorURL: str | None = None
    fingerprint: Annotated[str | None, BeforeValidator(_blank_is_none)] = None


class AlertmanagerWebhook(BaseModel):
    """Prometheus Alertmanager webhook payload (version 4, and what older releases and tools that
    imitate it send: without `groupKey`, `groupLabels`, `commonLabels`, or a group `status`)."""

    model_config = _Open

    version: str | int | None = None
    groupKey: str | int | None = None
    truncatedAlerts: int = 0
    status: AlertStatus | None = None
    receiver: str | None = None
    groupLabels: dict[str, str] | None = None
    commonLabels: dict[str, str] | None = None
    commonAnnotations: dict[str, str] | None = None
    externalURL: str | None = None
    alerts: list[AlertIn] = Field(min_length=1)


class GrafanaWebhook(BaseModel):
    """Grafana unified alerting webhook notification."""

    model_config = _Open

    receiver: str | None = None
    status: AlertStatus
    orgId: int | None = None
    alerts: list[AlertIn] = Field(min_length=1)
    groupKey: str | None = None
    externalURL: str | None = None
    version: str | None = None
    title: str | None = None


class GrafanaLegacyAlert(BaseModel):
    """A notification of Grafana's legacy dashboard alerting (removed in Grafana 11): one rule's
    state, without labels or a fingerprint. Understood, but it opens no ticket."""

    model_config = _Open

    ruleId: int
    ruleName: str | None = None
    state: str
    title: str | None = None
    ruleUrl: str | None = None
    evalMatches: list[dict[str, Any]] | None = None

    def ignored_because(self) -> str:
        return (
            f"Grafana legacy alerting notification (rule {self.ruleId}, state {self.state!r}): "
            "it has no labels to identify the alert by; use a unified alerting contact point"
        )


def _grafana_kind(value: Any) -> str:
    legacy = isinstance(value, dict) and "alerts" not in value and "ruleId" in value
    return "legacy" if legacy else "unified"


GrafanaNotification = Annotated[
    Annotated[GrafanaWebhook, Tag("unified")] | Annotated[GrafanaLegacyAlert, Tag("legacy")],
    Discriminator(_grafana_kind),
]


_FNV64_OFFSET = 14695981039346656037
_FNV64_PRIME = 1099511628211
_LABEL_SEPARATOR = 0xFF


def label_set_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of an alert's label set, for senders that send none
    (prometheus/common `model.LabelSet.Fingerprint`): FNV-1a 64 over the label names in byte
    order, each name and each value followed by the byte 0xff, as 16 hex digits."""
    digest = _FNV64_OFFSET
    for name in sorted(labels):  # code point order is UTF-8 byte order
        for part in (name, labels[name]):
            for byte in (*part.encode(), _LABEL_SEPARATOR):
                digest = ((digest ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


# --- OSV -------------------------------------------------------------------------------------


def _null_is_empty(value: Any) -> Any:
    return [] if value is None else value


# Go writes a nil slice as `null` unless the field says omitempty: osv.dev's own converter
# (vulnfeeds/vulns `Affected.Versions []string \`json:"versions"\``) published records with
# `"versions": null`. An OSV array that is null is read as empty.
_NullIsEmpty = BeforeValidator(_null_is_empty)


class OsvSeverity(BaseModel):
    model_config = _Open

    type: str
    score: str


class OsvEvent(BaseModel):
    model_config = _Open

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


class OsvRange(BaseModel):
    model_config = _Open

    type: str
    events: Annotated[list[OsvEvent], _NullIsEmpty] = Field(default_factory=list)
    repo: str | None = None


class OsvPackage(BaseModel):
    model_config = _Open

    ecosystem: str
    name: str
    purl: str | None = None


class OsvAffected(BaseModel):
    model_config = _Open

    package: OsvPackage | None = None
    ranges: Annotated[list[OsvRange], _NullIsEmpty] = Field(default_factory=list)
    versions: Annotated[list[str], _NullIsEmpty] = Field(default_factory=list)
    severity: Annotated[list[OsvSeverity], _NullIsEmpty] = Field(default_factory=list)
    database_specific: dict[str, Any] | None = None


class OsvReference(BaseModel):
    model_config = _Open

    type: str
    url: str


class OsvRecord(BaseModel):
    """An OSV record (https://ossf.github.io/osv-schema/); also the PyPI advisory-db YAML."""

    model_config = _Open

    schema_version: str | None = None
    id: str = Field(min_length=1, max_length=200)
    modified: Timestamp
    published: Timestamp | None = None
    withdrawn: Timestamp | None = None
    aliases: Annotated[list[str], _NullIsEmpty] = Field(default_factory=list)
    upstream: Annotated[list[str], _NullIsEmpty] = Field(default_factory=list)
    related: Annotated[list[str], _NullIsEmpty] = Field(default_factory=list)
    summary: str | None = None
    details: str | None = None
    severity: Annotated[list[OsvSeverity], _NullIsEmpty] = Field(default_factory=list)
    affected: Annotated[list[OsvAffected], _NullIsEmpty] = Field(default_factory=list)
    references: Annotated[list[OsvReference], _NullIsEmpty] = Field(default_factory=list)
    database_specific: dict[str, Any] | None = None

    def delivery_id(self) -> str:
        """This version of the record, for redelivery: its id and `modified`. The records in
        golang/vulndb's repository (`data/osv`) all carry the zero time (cmd/vulnreport writes
        `ToOSV(time.Time{})`; vuln.go.dev gets the real one when published), so an edit, even
        a withdrawal, kept the id@modified of the version before: there the content decides."""
        if self.modified.year > 1:
            return f"{self.id}@{self.modified.isoformat()}"
        content = self.model_dump_json(exclude_none=True).encode()
        return f"{self.id}#{hashlib.sha256(content).hexdigest()[:32]}"


class OsvBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    records: list[OsvRecord] = Field(min_length=1, max_length=10_000)


# --- issue trackers --------------------------------------------------------------------------


class GithubUser(BaseModel):
    model_config = _Open

    login: str
    html_url: str | None = None


class GithubLabel(BaseModel):
    model_config = _Open

    name: str


class GithubIssue(BaseModel):
    model_config = _Open

    number: int
    title: str
    body: str | None = None
    html_url: str
    user: GithubUser
    labels: list[GithubLabel] = Field(default_factory=list)
    created_at: Timestamp | None = None


class GithubRepository(BaseModel):
    model_config = _Open

    full_name: str


class GithubIssueChanges(BaseModel):
    """`changes` of an `issues` event. A transfer is told to both repositories: the old one
    gets `transferred` with `new_issue` and `new_repository`, the new one `opened` with
    `old_issue` and `old_repository` (github/rest-api-description webhook-issues-transferred /
    webhook-issues-opened; octokit/webhooks payload-examples issues/transferred,
    issues/opened.with-transfer). `edited` puts `title`/`body` here: kept as extra fields."""

    model_config = _Open

    new_issue: GithubIssue | None = None
    old_issue: GithubIssue | None = None


class GithubIssuesEvent(BaseModel):
    model_config = _Open

    action: str
    issue: GithubIssue
    changes: GithubIssueChanges | None = None
    label: GithubLabel | None = None
    repository: GithubRepository | None = None
    sender: GithubUser | None = None


class GithubIdentifier(BaseModel):
    model_config = _Open

    type: str
    value: str


class GithubPackage(BaseModel):
    model_config = _Open

    ecosystem: str
    name: str


class GithubVulnerability(BaseModel):
    model_config = _Open

    package: GithubPackage
    severity: str | None = None
    vulnerable_version_range: str | None = None
    first_patched_version: dict[str, Any] | None = None


class GithubCvss(BaseModel):
    model_config = _Open

    vector_string: str | None = None
    score: float | None = None


class GithubAdvisory(BaseModel):
    model_config = _Open

    ghsa_id: str
    summary: str
    description: str = ""
    severity: str | None = None
    identifiers: list[GithubIdentifier] = Field(default_factory=list)
    references: list[dict[str, Any]] = Field(default_factory=list)
    published_at: Timestamp | None = None
    withdrawn_at: Timestamp | None = None
    vulnerabilities: list[GithubVulnerability] = Field(default_factory=list)
    cvss: GithubCvss | None = None


class GithubSecurityAdvisoryEvent(BaseModel):
    model_config = _Open

    action: str
    security_advisory: GithubAdvisory


def _redacted_is_none(value: Any) -> Any:
    return None if value == "[REDACTED]" else value


class GitlabUser(BaseModel):
    model_config = _Open

    username: str
    name: str | None = None
    email: Annotated[
        str | None,
        BeforeValidator(_redacted_is_none),
        Field(description="GitLab sends [REDACTED] for users without a public email: none"),
    ] = None


class GitlabIssueAttributes(BaseModel):
    model_config = _Open

    iid: int
    title: str
    description: str | None = None
    url: str
    state: str | None = None
    action: str | None = None
    confidential: bool = False
    type: str | None = Field(
        default=None, description="The work item type: Issue, Incident, Task, Epic, ..."
    )
    severity: str | None = Field(default=None, description="critical, high, medium, low, unknown")


class GitlabLabel(BaseModel):
    model_config = _Open

    title: str


class GitlabProject(BaseModel):
    model_config = _Open

    path_with_namespace: str
    web_url: str | None = None


class GitlabLabelChange(BaseModel):
    """`changes.labels`: the issue's labels before and after the change, whole lists (GitLab
    sends no "labeled" action: a label added to an open issue is an `update` carrying this)."""

    model_config = _Open

    previous: Annotated[list[GitlabLabel], _NullIsEmpty] = Field(default_factory=list)
    current: Annotated[list[GitlabLabel], _NullIsEmpty] = Field(default_factory=list)

    def added(self) -> list[str]:
        """The titles in `current` that `previous` lacks, in `current`'s order."""
        before = {label.title for label in self.previous}
        return list(dict.fromkeys(lb.title for lb in self.current if lb.title not in before))


def _unreadable_is_none(value: Any) -> Any:
    return value if value is None or isinstance(value, dict) else None


class GitlabIssueChanges(BaseModel):
    """`changes` of an Issue Hook: `{"<attribute>": {"previous": ..., "current": ...}}` for each
    attribute the action changed (gitlabhq doc/user/project/integrations/webhook_events.md,
    "Work item events"). Only `labels` is read; the others are kept as extra fields."""

    model_config = _Open

    labels: Annotated[GitlabLabelChange | None, BeforeValidator(_unreadable_is_none)] = None


class GitlabIssueHook(BaseModel):
    """GitLab's Issue Hook: a classic issue (`object_kind: issue`) or any other work item
    (`object_kind: work_item`: incidents, tasks, epics, ...; group work items have no project)."""

    model_config = _Open

    object_kind: Literal["issue", "work_item"]
    user: GitlabUser
    project: GitlabProject | None = None
    object_attributes: GitlabIssueAttributes
    labels: list[GitlabLabel] = Field(default_factory=list)
    changes: Annotated[GitlabIssueChanges | None, BeforeValidator(_unreadable_is_none)] = None


# NUL, and UTF-16 surrogates standing alone: valid JSON escapes ("\\u0000", "\\ud800") that
# PostgreSQL text and jsonb cannot store (a lone surrogate is no UTF-8 at all).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def may_hold_unstorable(raw: bytes) -> bool:
    """Whether the JSON text `raw` may decode to a NUL or a lone surrogate (`nul_path` says
    where); False is certain. Decoded text holds one only from an escape (`\\u`), a NUL byte
    (also in every UTF-16 or UTF-32 text, which `json.loads` accepts) or a surrogate encoded in
    UTF-8 (lead byte 0xED, which `json.loads` lets through). Three byte scans instead of a walk
    of every string of the decoded value (0.5 against 4-4.7 µs for a chaos/load.py alert):
    most alerts hold none of the three."""
    return b"\\u" in raw or b"\x00" in raw or b"\xed" in raw


def nul_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where a NUL character (\\u0000) or a lone surrogate (\\ud800-\\udfff) hides in a JSON
    value: PostgreSQL cannot store either, so such input is refused with the field's location."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if _UNSTORABLE.search(name):
                return (*path, _UNSTORABLE.sub(lambda found: f"\\u{ord(found[0]):04x}", name))
            found = nul_path(item, (*path, name))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, (*path, index))
            if found is not None:
                return found
    return None
