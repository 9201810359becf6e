"""Reports uploaded for a branch, a commit and a suite (JUnit XML, SARIF, pip-audit JSON), by
HTTP or in a CloudEvent: one observation each, its status the report's verdict under the
configured policy. An upload is identified by its content (kind, branch, commit, suite and the
report's bytes), so uploading the same report again records nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from lts_events.contracts.release.ci import CiEvidence, CiSource, FindingLevel, Gate

from lts_release.ci import junit, pip_audit, sarif
from lts_release.ci.observation import Observation, branch_name, commit_sha, job_name


class ReportKind(StrEnum):
    JUNIT = "junit"
    SARIF = "sarif"
    PIP_AUDIT = "pip-audit"


_SOURCES = {
    ReportKind.JUNIT: CiSource.JUNIT,
    ReportKind.SARIF: CiSource.SARIF,
    ReportKind.PIP_AUDIT: CiSource.PIP_AUDIT,
}
# What a report is, whatever its job is called: used when no configured pattern matches.
_DEFAULT_GATES = {
    ReportKind.JUNIT: None,
    ReportKind.SARIF: Gate.SECURITY_SCAN,
    ReportKind.PIP_AUDIT: Gate.DEPENDENCY_SCAN,
}


@dataclass(frozen=True)
class ReportPolicy:
    """`sarif_fail_level`: findings at or above it fail a SARIF scan. `ignored_vulnerabilities`:
    ids (or aliases) a dependency scan does not count."""

    sarif_fail_level: FindingLevel = FindingLevel.ERROR
    ignored_vulnerabilities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Upload:
    """Where an uploaded report belongs: checked on arrival, named by its fields."""

    kind: ReportKind
    branch: str
    commit: str
    suite: str
    run_url: str | None = None
    repository: str | None = None

    @staticmethod
    def of(
        kind: ReportKind,
        *,
        branch: object,
        commit: object,
        suite: object,
        run_url: str | None = None,
        repository: str | None = None,
    ) -> Upload:
        return Upload(
            kind=kind,
            branch=branch_name(branch, "branch"),
            commit=commit_sha(commit, "commit"),
            suite=job_name(suite, "suite"),
            run_url=run_url,
            repository=repository,
        )

    def delivery_id(self, body: bytes) -> str:
        digest = hashlib.sha256()
        for part in (self.kind, self.repository or "", self.branch, self.commit, self.suite):
            digest.update(part.encode())
            digest.update(b"\0")
        digest.update(body)
        return f"{self.kind}:{digest.hexdigest()}"


def observe(upload: Upload, body: bytes, policy: ReportPolicy) -> Observation:
    """The report's observation; `BadInput` naming the field of a malformed report."""
    if upload.kind is ReportKind.JUNIT:
        counts = junit.parse(body)
        status, raw = junit.status_of(counts), f"{counts.failed} failed, {counts.errors} errors"
        evidence = CiEvidence(run_url=upload.run_url, tests=counts)
    elif upload.kind is ReportKind.SARIF:
        findings = sarif.parse(body)
        status = sarif.status_of(findings, fail_level=policy.sarif_fail_level)
        raw = f"{len(findings)} findings"
        evidence = CiEvidence(
            run_url=upload.run_url,
            findings=sarif.kept(findings),
            fail_level=policy.sarif_fail_level,
        )
    else:
        counted, ignored = pip_audit.split(
            pip_audit.parse(body), ignored_ids=policy.ignored_vulnerabilities
        )
        status, raw = pip_audit.status_of(counted), f"{len(counted)} vulnerabilities"
        evidence = CiEvidence(
            run_url=upload.run_url,
            vulnerabilities=tuple(counted[: pip_audit.MAX_VULNERABILITIES]),
            ignored_vulnerabilities=tuple(ignored),
        )
    return Observation(
        source=_SOURCES[upload.kind],
        repository=upload.repository,
        branch=upload.branch,
        commit=upload.commit,
        job=upload.suite,
        status=status,
        raw_status=raw,
        evidence=evidence,
        default_gate=_DEFAULT_GATES[upload.kind],
    )
