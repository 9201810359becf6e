"""Every producer's payload becomes commands over one ticket model. Pure: time comes in."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lts_events.contracts.common import Severity, TicketSource
from lts_events.contracts.intake import TicketKind
from lts_events.severity import (
    severity_from_vectors,
    severity_from_word,
    severity_of_cvss_score,
)
from lts_events.support import DEFAULT_LINES, LtsLine, affected_lines

from lts_intake import enrich, labels
from lts_intake.formats import (
    AlertIn,
    AlertStatus,
    GithubIssuesEvent,
    GithubSecurityAdvisoryEvent,
    GitlabIssueHook,
    OsvAffected,
    OsvRecord,
    ReportIn,
    label_set_fingerprint,
)
from lts_intake.model import (
    AddLabels,
    AffectedRange,
    Command,
    Ignore,
    OpenTicket,
    ResolveAlert,
    TicketDraft,
    WithdrawAdvisory,
    advisory_key,
    alert_key,
    unique,
)

_VERSIONED_RANGES = {"ECOSYSTEM", "SEMVER"}
_PYPI = {"pypi", "pip"}


# The product's own PyPI package (the demo's `ltsapp`); deployments set
# LTS_INTAKE_PRODUCT_PACKAGES. An advisory about any other package is not ours to backport.
DEFAULT_PRODUCT_PACKAGES = ("ltsapp",)


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    lines: tuple[LtsLine, ...] = DEFAULT_LINES  # the one support matrix (lts_events.support)
    product_packages: tuple[str, ...] = DEFAULT_PRODUCT_PACKAGES
    project_modules: tuple[str, ...] = field(default=())

    def concerns(self, ecosystem: str | None, name: str | None) -> bool:
        """Is an affected package the product (every package when none is configured)?"""
        if not self.product_packages:
            return True
        return (ecosystem or "").lower() in _PYPI and _normalize(name) in {
            _normalize(p) for p in self.product_packages
        }

    def lts_branches(self, versions: Sequence[str], *, now: datetime) -> list[str]:
        """The supported LTS branches the versions or ranges touch, newest first."""
        return [line.branch for line in affected_lines(versions, self.lines, now.date())]

    def not_ours(self, packages: Sequence[str]) -> Ignore:
        names = ", ".join(sorted(set(packages))) or "no package"
        ours = ", ".join(self.product_packages)
        return Ignore(f"the advisory concerns {names}, not the product's packages ({ours})")


def _normalize(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", (name or "").lower())


# --- people ----------------------------------------------------------------------------------


def from_report(
    report: ReportIn,
    *,
    reporter: str,
    contact: str | None,
    now: datetime,
    policy: IntakePolicy,
    idempotency_key: str | None = None,
) -> OpenTicket:
    cve_ids = unique([c.strip().upper() for c in report.cve_ids])
    environment = (
        report.environment
        if isinstance(report.environment, dict)
        else enrich.parse_environment(report.environment)
    )
    packages = (
        {k.lower(): v for k, v in report.package_versions.items()}
        if isinstance(report.package_versions, dict)
        else enrich.parse_package_versions(report.package_versions)
    )
    draft = TicketDraft(
        title=report.title.strip(),
        description=report.description,
        source=TicketSource.REPORT,
        kind=TicketKind(report.kind),
        reporter=reporter,
        contact=report.contact or contact,
        severity_guess=report.severity,
        cve_ids=cve_ids,
        advisory_ids=list(cve_ids),
        affected_versions=unique([v.strip() for v in report.affected_versions]),
        affected_lts_lines=policy.lts_branches(report.affected_versions, now=now),
        reproduction_steps=report.reproduction_steps,
        logs=report.logs,
        test_case=report.test_case,
        traceback=report.traceback,
        environment=environment,
        python_version=report.python_version
        or environment.get("python")
        or environment.get("python version")
        or enrich.python_version_from(report.traceback),
        package_versions=packages,
        ci_links=[str(u) for u in report.ci_links],
        links=unique(
            [str(u) for u in report.links]
            + cve_references(report.title, report.description, declared=cve_ids)
        ),
        opened_at=now,
        raw=report.model_dump(mode="json"),
    )
    draft = _labelled(draft)
    own_key = (
        f"report:{idempotency_key}"
        if idempotency_key
        else f"report:{_digest(draft.raw, reporter, now.isoformat())}"
    )
    return OpenTicket(draft=draft, keys=(own_key, *(advisory_key(c) for c in cve_ids)))


# --- alerts ----------------------------------------------------------------------------------


def from_alerts(
    alerts: Sequence[AlertIn],
    *,
    source: TicketSource,
    now: datetime,
    policy: IntakePolicy,
    context: dict[str, Any] | None = None,
    group_status: AlertStatus | None = None,
) -> list[Command]:
    """Each alert of a grouped notification on its own: firing opens (or re-fires), resolved
    resolves. `context` (group labels, receiver, ...) is kept in each ticket's raw payload."""
    return [
        _from_alert(
            a,
            alert_status(a, group_status=group_status, now=now),
            source=source,
            now=now,
            policy=policy,
            context=context,
        )
        for a in alerts
    ]


def alert_status(alert: AlertIn, *, group_status: AlertStatus | None, now: datetime) -> AlertStatus:
    """The alert's own status; else Alertmanager's rule: resolved once its `endsAt` has passed.
    A resolved group holds only resolved alerts; a firing one may hold both."""
    if alert.status is not None:
        return alert.status
    if group_status == "resolved":
        return "resolved"
    ends_at = alert.endsAt
    return "resolved" if ends_at is not None and ends_at.year > 1 and ends_at <= now else "firing"


def _from_alert(
    alert: AlertIn,
    status: AlertStatus,
    *,
    source: TicketSource,
    now: datetime,
    policy: IntakePolicy,
    context: dict[str, Any] | None,
) -> Command:
    fingerprint = alert.fingerprint or label_set_fingerprint(alert.labels)
    raw = {"alert": alert.model_dump(mode="json"), **({"notification": context} if context else {})}
    if status == "resolved":
        ends_at = alert.endsAt if alert.endsAt and alert.endsAt.year > 1 else now
        return ResolveAlert(fingerprint, source, ends_at, starts_at=alert.startsAt, raw=raw)
    annotations = alert.annotations or {}
    name = alert.labels.get("alertname", "alert")
    summary = annotations.get("summary") or annotations.get("message") or ""
    severity_label = alert.labels.get("severity") or alert.labels.get("priority")
    versions = _alert_versions(alert.labels)
    draft = TicketDraft(
        title=f"{name}: {summary}" if summary else name,
        description=annotations.get("description", summary),
        source=source,
        kind=TicketKind.ALERT,
        severity_guess=severity_from_word(severity_label),
        environment={k: v for k, v in alert.labels.items() if k not in {"alertname", "severity"}},
        affected_versions=versions,
        affected_lts_lines=policy.lts_branches(versions, now=now),
        links=unique([u for u in (alert.generatorURL, annotations.get("runbook_url")) if u]),
        alert_fingerprint=fingerprint,
        alert_severity=severity_label,
        opened_at=now,
        external_ref=alert.generatorURL or None,
        raw=raw,
    )
    draft = _labelled(draft)
    return OpenTicket(draft=draft, keys=(alert_key(fingerprint),), alert_starts_at=alert.startsAt)


def _alert_versions(alert_labels: dict[str, str]) -> list[str]:
    return unique(
        [
            alert_labels[k].strip()
            for k in ("version", "app_version", "release")
            if k in alert_labels
        ]
    )


# --- OSV -------------------------------------------------------------------------------------


def from_osv(record: OsvRecord, *, now: datetime, policy: IntakePolicy) -> Command:
    """The record's ticket, keyed by its id and `aliases` (the same vulnerability in other
    databases) and, when it is derived from one upstream vulnerability, by that one too: a
    distribution's record of an upstream CVE (Ubuntu's UBUNTU-CVE-*: `upstream`, never
    `aliases`, as the OSV schema requires) is the same problem to fix as the CVE's own records.
    Several `upstream` ids (a distribution bundling vulnerabilities in one record) are each a
    different problem: named on the ticket, never keys, or one ticket would swallow the others.
    `related` is never a key (a similar but different vulnerability)."""
    aliases = unique([a.strip() for a in record.aliases if a.strip()])
    upstream = unique([u.strip() for u in record.upstream if u.strip()])
    raw = record.model_dump(mode="json", exclude_none=True)
    if record.withdrawn is not None:
        # a derived record withdrawn says nothing of the upstream vulnerability's own records
        return WithdrawAdvisory(record.id, tuple(aliases), record.withdrawn, raw=raw)
    advisory_ids = unique([record.id, *aliases, *(upstream if len(upstream) == 1 else [])])
    ours = [a for a in record.affected if _concerns(a, policy)]
    if record.affected and not ours:
        return policy.not_ours([a.package.name for a in record.affected if a.package])
    specs = [v for a in ours for v in _osv_specs(a)]
    vectors = _osv_vectors(record)
    cve_ids = unique(
        [i.upper() for i in (*advisory_ids, *upstream) if i.upper().startswith("CVE-")]
    )
    informational = _informational(ours)
    kind = TicketKind.SECURITY
    if informational is not None and not cve_ids and not vectors:
        if informational != "unsound":
            return Ignore(
                f"{record.id} is informational ({informational}): no vulnerability (no CVE, "
                "no CVSS vector) and no defect to fix, so it opens no ticket"
            )
        kind = TicketKind.BUG  # undefined behaviour reachable from safe code: a defect
    draft = TicketDraft(
        title=_first_line(record.summary) or _first_sentence(record.details) or record.id,
        description=record.details or record.summary or "",
        source=TicketSource.OSV,
        kind=kind,
        severity_guess=severity_from_vectors(vectors) or _osv_severity_word(record),
        cve_ids=cve_ids,
        advisory_ids=advisory_ids,
        labels=[informational] if informational else [],
        affected_versions=specs,
        affected_lts_lines=policy.lts_branches(specs, now=now),
        package_versions={},
        links=unique([r.url for r in record.references]),
        cvss_vectors=vectors,
        opened_at=now,
        external_ref=record.id,
        raw=raw,
    )
    draft = _labelled(draft)
    return OpenTicket(draft=draft, keys=tuple(advisory_key(i) for i in advisory_ids))


def _concerns(affected: OsvAffected, policy: IntakePolicy) -> bool:
    package = affected.package
    return policy.concerns(
        package.ecosystem if package else None, package.name if package else None
    )


def _informational(affected: Sequence[OsvAffected]) -> str | None:
    """RustSec's kind of informational advisory ("unmaintained", "unsound", "notice"), which
    its OSV export writes in each affected package's `database_specific.informational` (null
    for a vulnerability; rustsec/advisory-db branch osv). None unless every package says so."""
    words = [(a.database_specific or {}).get("informational") for a in affected]
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        return None
    return str(words[0]).strip().lower()


def _osv_ranges(affected: OsvAffected) -> list[AffectedRange]:
    intervals: list[AffectedRange] = []
    for rng in affected.ranges:
        if rng.type.upper() not in _VERSIONED_RANGES:
            continue
        start: str | None = None
        open_interval = False
        for event in rng.events:
            if event.introduced is not None:
                start, open_interval = event.introduced, True
            elif event.fixed is not None or event.last_affected is not None:
                intervals.append(AffectedRange(start, event.fixed, event.last_affected))
                open_interval = False
        if open_interval:
            intervals.append(AffectedRange(start))
    if not intervals and affected.versions:
        intervals = [AffectedRange(v, None, v) for v in affected.versions]
    return intervals


def _osv_specs(affected: OsvAffected) -> list[str]:
    name = affected.package.name if affected.package else ""
    specs: list[str] = []
    for interval in _osv_ranges(affected):
        parts = []
        if interval.introduced not in (None, "0"):
            parts.append(f">={interval.introduced}")
        if interval.fixed:
            parts.append(f"<{interval.fixed}")
        if interval.last_affected:
            parts.append(f"<={interval.last_affected}")
        specs.append(f"{name} {','.join(parts) or '*'}".strip())
    return specs


def _osv_vectors(record: OsvRecord) -> list[str]:
    vectors = [s.score for s in record.severity if s.type.upper().startswith("CVSS")]
    for affected in record.affected:
        vectors += [s.score for s in affected.severity if s.type.upper().startswith("CVSS")]
        cvss = (affected.database_specific or {}).get("cvss")
        if isinstance(cvss, dict) and isinstance(cvss.get("vectorString"), str):
            vectors.append(cvss["vectorString"])
        elif isinstance(cvss, str):  # RustSec's export: the vector itself, or null
            vectors.append(cvss)
    return unique([v for v in vectors if v.startswith("CVSS:") or "/" in v])


def _osv_severity_word(record: OsvRecord) -> Severity | None:
    word = (record.database_specific or {}).get("severity")
    return severity_from_word(word) if isinstance(word, str) else None


# --- GitHub ----------------------------------------------------------------------------------


def github_issue_key(html_url: str) -> str:
    return f"github:{html_url}"


def from_github_issue(event: GithubIssuesEvent, *, now: datetime, policy: IntakePolicy) -> Command:
    """`opened`/`reopened` open (or find) the issue's ticket; `labeled` labels it. A transferred
    issue is one ticket in both repositories: `transferred` (sent to the old repository) and the
    new repository's `opened` (its `changes.old_issue`) each key the ticket by both URLs, the
    issue's current one first for `opened`, the old one first for `transferred`, so whichever
    arrives first, the other and the new repository's later events find the same ticket."""
    issue = event.issue
    key = github_issue_key(issue.html_url)
    if event.action == "labeled" and event.label is not None:
        who = event.sender.login if event.sender else "someone"
        return AddLabels((key,), (event.label.name,), reason=f"labelled on GitHub by {who}")
    changes = event.changes
    moved_from: str | None
    if event.action == "transferred" and changes is not None and changes.new_issue is not None:
        # the issue as it is now, in the new repository; the old URL still leads to its ticket
        current, moved_from = changes.new_issue, issue.html_url
        keys = (key, github_issue_key(current.html_url))
    elif event.action in {"opened", "reopened", "transferred"}:
        old = changes.old_issue if changes is not None else None
        current, moved_from = issue, old.html_url if old is not None else None
        keys = (key, *((github_issue_key(moved_from),) if moved_from else ()))
    else:
        return Ignore(f"issues.{event.action} does not open or change a ticket", keys=(key,))
    draft = _from_issue_text(
        title=current.title,
        body=current.body or "",
        tracker_labels=[label.name for label in current.labels],
        source=TicketSource.GITHUB,
        reporter=current.user.login,
        contact=current.user.html_url,
        external_ref=current.html_url,
        now=now,
        policy=policy,
        raw=event.model_dump(mode="json", exclude_none=True),
        also_at=moved_from,
    )
    return OpenTicket(draft=draft, keys=(*keys, *(advisory_key(c) for c in draft.cve_ids)))


def from_github_advisory(
    event: GithubSecurityAdvisoryEvent, *, now: datetime, policy: IntakePolicy
) -> Command:
    advisory = event.security_advisory
    ids = unique([advisory.ghsa_id, *(i.value for i in advisory.identifiers)])
    raw = event.model_dump(mode="json", exclude_none=True)
    if event.action == "withdrawn" or advisory.withdrawn_at is not None:
        return WithdrawAdvisory(
            advisory.ghsa_id, tuple(ids[1:]), advisory.withdrawn_at or now, raw=raw
        )
    if event.action not in {"published", "updated"}:
        return Ignore(f"security_advisory.{event.action} is not handled")
    concerned = [
        v for v in advisory.vulnerabilities if policy.concerns(v.package.ecosystem, v.package.name)
    ]
    if advisory.vulnerabilities and not concerned:
        return policy.not_ours([v.package.name or "" for v in advisory.vulnerabilities])
    specs = [
        f"{v.package.name} {v.vulnerable_version_range}"
        for v in concerned
        if v.vulnerable_version_range
    ]
    vector = advisory.cvss.vector_string if advisory.cvss and advisory.cvss.vector_string else None
    draft = TicketDraft(
        title=advisory.summary,
        description=advisory.description,
        source=TicketSource.GITHUB,
        kind=TicketKind.SECURITY,
        severity_guess=(severity_from_vectors([vector]) if vector else None)
        or severity_from_word(advisory.severity)
        or _rating(advisory.cvss.score if advisory.cvss else None),
        cve_ids=[i.upper() for i in ids if i.upper().startswith("CVE-")],
        advisory_ids=ids,
        affected_versions=specs,
        affected_lts_lines=policy.lts_branches(specs, now=now),
        links=unique([str(r.get("url")) for r in advisory.references if r.get("url")]),
        cvss_vectors=[vector] if vector else [],
        opened_at=now,
        external_ref=advisory.ghsa_id,
        raw=raw,
    )
    draft = _labelled(draft)
    return OpenTicket(draft=draft, keys=tuple(advisory_key(i) for i in ids))


# --- GitLab ----------------------------------------------------------------------------------


# Work item types that report something to fix; epics, objectives, key results, test cases and
# requirements plan work instead.
GITLAB_REPORT_TYPES = frozenset({"issue", "incident", "task"})


def from_gitlab_issue(hook: GitlabIssueHook, *, now: datetime, policy: IntakePolicy) -> Command:
    """A classic issue or a work item (GitLab sends both as an Issue Hook). `open`/`reopen` open
    (or find) its ticket; an `update` whose `changes.labels` adds labels labels it, as GitHub's
    `labeled` does: GitLab has no labelling action, it sends the label lists before and after
    (`previous`/`current`), so the labels added are the titles in `current` not in `previous`.
    A removed label changes nothing (intake has no event for it), nor does any other update."""
    issue = hook.object_attributes
    key = f"gitlab:{issue.url}"
    item_type = (issue.type or "Issue").strip()
    if item_type.lower() not in GITLAB_REPORT_TYPES:
        return Ignore(f"a GitLab {item_type} work item plans work, it reports nothing to fix")
    label_change = hook.changes.labels if hook.changes is not None else None
    added = label_change.added() if label_change is not None else []
    if issue.action == "update" and added:
        return AddLabels((key,), tuple(added), reason=f"labelled on GitLab by {hook.user.username}")
    if issue.action not in {"open", "reopen"}:
        return Ignore(f"issue action {issue.action!r} does not open a ticket", keys=(key,))
    draft = _from_issue_text(
        title=issue.title,
        body=issue.description or "",
        tracker_labels=[label.title for label in hook.labels]
        + ([item_type.lower()] if item_type.lower() != "issue" else [])
        + (["confidential"] if issue.confidential else []),
        source=TicketSource.GITLAB,
        reporter=hook.user.username,
        contact=hook.user.email,
        external_ref=issue.url,
        now=now,
        policy=policy,
        raw=hook.model_dump(mode="json", exclude_none=True),
        tracker_severity=issue.severity,
    )
    return OpenTicket(draft=draft, keys=(key, *(advisory_key(c) for c in draft.cve_ids)))


# --- issue bodies written from the ticket template ------------------------------------------

_SECTION = re.compile(r"^\s{0,3}(?:#{1,6}\s+(.+?)\s*#*\s*|\*\*(.+?)\*\*:?\s*)$")
_SECTION_NAMES = {
    "description": "description",
    "what happened": "description",
    "reproduction steps": "reproduction_steps",
    "steps to reproduce": "reproduction_steps",
    "how to reproduce": "reproduction_steps",
    "reproduction": "reproduction_steps",
    "logs": "logs",
    "log output": "logs",
    "relevant log output": "logs",
    "environment": "environment",
    "python version": "python_version",
    "package versions": "package_versions",
    "pip freeze": "package_versions",
    "traceback": "traceback",
    "stack trace": "traceback",
    "test case": "test_case",
    "affected versions": "affected_versions",
    "version": "affected_versions",
    "severity": "severity",
    "cve": "cve",
    "cve id": "cve",
    "ci links": "ci_links",
    "failing ci jobs": "ci_links",
    "links to failing ci jobs": "ci_links",
}
_URL = re.compile(r"https?://[^\s)>\]]+")


def parse_template(body: str) -> dict[str, str]:
    """Sections of an issue written from the ticket template (`### Heading` or `**Heading**`)."""
    sections: dict[str, list[str]] = {}
    current = "description"
    for line in body.splitlines():
        heading = _SECTION.match(line)
        name = (
            _SECTION_NAMES.get((heading[1] or heading[2]).strip().lower().rstrip(":"))
            if heading
            else None
        )
        if name:
            current = name
            sections.setdefault(current, [])
            continue
        sections.setdefault(current, []).append(line)
    cleaned = {k: _strip_fences("\n".join(v)) for k, v in sections.items()}
    return {k: v for k, v in cleaned.items() if v}


def _strip_fences(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not line.strip().startswith("```")]
    cleaned = "\n".join(lines).strip()
    return "" if cleaned == "_No response_" else cleaned


def _from_issue_text(
    *,
    title: str,
    body: str,
    tracker_labels: list[str],
    source: TicketSource,
    reporter: str,
    contact: str | None,
    external_ref: str,
    now: datetime,
    policy: IntakePolicy,
    raw: dict[str, Any],
    tracker_severity: str | None = None,
    also_at: str | None = None,
) -> TicketDraft:
    sections = parse_template(body)
    traceback = sections.get("traceback") or _embedded_traceback(body)
    versions = [
        v.strip() for v in re.split(r"[,\n]", sections.get("affected_versions", "")) if v.strip()
    ]
    environment = enrich.parse_environment(sections.get("environment"))
    lowered = {label.lower() for label in tracker_labels}
    kind = (
        TicketKind.SECURITY
        if lowered & {"security", "cve", "vulnerability"}
        else TicketKind.FEATURE
        if lowered & {"feature", "enhancement", "feature request"}
        else TicketKind.BUG
    )
    cve_ids = labels.cve_ids_in(sections.get("cve"))
    draft = TicketDraft(
        title=title.strip() or "(untitled)",
        description=sections.get("description", body),
        source=source,
        kind=TicketKind.SECURITY if cve_ids and kind is TicketKind.BUG else kind,
        reporter=reporter,
        contact=contact,
        severity_guess=severity_from_word(
            sections.get("severity", "").split()[0] if sections.get("severity") else None
        )
        or severity_from_word(tracker_severity),
        cve_ids=cve_ids,
        advisory_ids=list(cve_ids),
        affected_versions=versions,
        affected_lts_lines=policy.lts_branches(versions, now=now),
        labels=tracker_labels,
        reproduction_steps=sections.get("reproduction_steps"),
        logs=sections.get("logs"),
        test_case=sections.get("test_case"),
        traceback=traceback,
        environment=environment,
        python_version=sections.get("python_version")
        or environment.get("python")
        or enrich.python_version_from(sections.get("environment"), traceback),
        package_versions=enrich.parse_package_versions(sections.get("package_versions")),
        ci_links=_URL.findall(sections.get("ci_links", "")),
        links=[
            external_ref,
            *([also_at] if also_at else []),
            *cve_references(title, body, declared=cve_ids),
        ],
        opened_at=now,
        external_ref=external_ref,
        raw=raw,
    )
    return _labelled(draft)


def _embedded_traceback(body: str) -> str | None:
    start = body.find("Traceback (most recent call last)")
    if start < 0:
        return None
    return _strip_fences(body[start:].split("```")[0])


# --- shared ----------------------------------------------------------------------------------

_CVE_RECORD = "https://www.cve.org/CVERecord?id="


def cve_references(*texts: str | None, declared: Sequence[str]) -> list[str]:
    """The CVEs a text mentions without being about them ("1.4.3 regressed after the
    CVE-2024-45230 fix"), as links to their records. A mention is a reference, never an identity:
    only a declared CVE (a report's `cve_ids`, an issue template's CVE section) joins the ticket's
    `cve_ids` and dedup keys and so links it to that CVE's ticket."""
    return [f"{_CVE_RECORD}{c}" for c in labels.cve_ids_in(*texts) if c not in declared]


def _rating(score: float | None) -> Severity | None:
    """A bare CVSS base score's rating; 0.0 is CVSS's "none": no guess."""
    return severity_of_cvss_score(score) if score else None


def _labelled(draft: TicketDraft) -> TicketDraft:
    automatic = labels.automatic_labels(draft)
    return draft.model_copy(update={"labels": unique([*draft.labels, *automatic])})


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:300] if (text or "").strip() else ""


def _first_sentence(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat.split(". ")[0][:300]
