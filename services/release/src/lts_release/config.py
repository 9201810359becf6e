"""The release service's settings (`LTS_RELEASE_*`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lts_events.contracts.common import Severity
from lts_events.contracts.release.ci import FindingLevel, Gate
from lts_events.contracts.release.rollout import CanaryPhase
from lts_events.infra.paths import lts_home
from lts_events.settings import CommonSettings
from lts_events.support import (
    SUPPORT_MATRIX_ENV,
    LtsLine,
    LtsLineSetting,
    default_line_settings,
    lines_of,
)
from packaging.version import Version
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_release.backports.policy import ESSENTIAL_GATES, RELEASE_SLA, BackportPolicy
from lts_release.ci.gates import DEFAULT_GATE_RULES, GateRule
from lts_release.ci.reports import ReportPolicy
from lts_release.rollout.policy import SEED_PHASES, RolloutPolicy

DEV_SECRET_PREFIX = "dev-"

_ERROR_RATE = (
    'sum(rate(http_requests_total{version="{{version}}",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{version="{{version}}"}[5m]))'
)
_P95_MS = (
    "histogram_quantile(0.95, sum by (le)"
    ' (rate(http_request_duration_seconds_bucket{version="{{version}}"}[5m]))) * 1000'
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LTS_RELEASE_",
        frozen=True,
        use_attribute_docstrings=True,
        extra="ignore",
        populate_by_name=True,
    )

    triage_topic: str = "lts.triage.events"
    """Topic of triage's events, which open and update backports."""

    # -- publication (relpub)
    pypi_url: str | None = None
    """Upload URL of the package index releases are published to (twine's `--repository-url`:
    pypiserver's root, `https://upload.pypi.org/legacy/`, devpi's `/<user>/<index>/`); `lts infra
    up` sets it to its local pypiserver. Unset: no package index channel."""
    pypi_simple_url: str | None = None
    """The index's PEP 503 simple index, read to find published files; default
    `<pypi_url>simple/` (pypiserver, Artifactory). PyPI: `https://pypi.org/simple/`."""
    pypi_username: str | None = None
    """User of the index's upload API (PyPI: `__token__`)."""
    pypi_password: SecretStr | None = None
    """Password or API token of the index's upload user."""
    pub_page_dir: Path | None = None
    """Directory the release page is written to (default `$LTS_HOME/release-pages`)."""
    pub_page_url: str | None = None
    """Public base URL of the release page (its links and `ReleasePublished`'s URLs); default:
    this service's own `/releases/` as the publish request reached it."""
    pub_retry_attempts: int = 3
    """Attempts per file before a transient channel error answers 503 (publish again later)."""

    @property
    def page_dir(self) -> Path:
        return self.pub_page_dir or lts_home() / "release-pages"

    # -- ci (relci): CI results as CI systems send them
    ci_gate_patterns: list[GateRule] = Field(default_factory=lambda: list(DEFAULT_GATE_RULES))
    """CI job names -> gates, JSON `[{"gate": "unit", "patterns": ["*unit*", "re:^pytest"]}]`:
    the first rule with a matching pattern wins (globs match the whole name, `re:` searches)."""
    ci_sarif_fail_level: FindingLevel = FindingLevel.ERROR
    """SARIF findings at or above this level (error, warning, note, none) fail the scan."""
    ci_ignored_vulnerabilities: list[str] = []
    """Vulnerability ids or aliases a dependency scan does not count (`pip-audit --ignore-vuln`)."""
    ci_github_webhook_secret: SecretStr = SecretStr("dev-release-github-webhook-secret")
    """HMAC secret of GitHub's CI webhook deliveries (`X-Hub-Signature-256`)."""
    ci_gitlab_webhook_token: SecretStr = SecretStr("dev-release-gitlab-webhook-token")
    """Token GitLab sends in `X-Gitlab-Token` with its Pipeline Hooks."""
    ci_max_report_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Largest webhook or report accepted; larger ones get 413 before they are parsed."""
    ci_inbound_topic: str = "lts.inbound.ci"
    """Topic of CI results as CloudEvents (renamed only for isolated tests)."""

    def ci_report_policy(self) -> ReportPolicy:
        return ReportPolicy(
            sarif_fail_level=self.ci_sarif_fail_level,
            ignored_vulnerabilities=frozenset(self.ci_ignored_vulnerabilities),
        )

    @model_validator(mode="after")
    def _no_dev_ci_secrets_outside_local(self) -> Settings:
        if CommonSettings().environment == "local":
            return self
        for name in ("ci_github_webhook_secret", "ci_gitlab_webhook_token"):
            secret: SecretStr = getattr(self, name)
            if secret.get_secret_value().startswith(DEV_SECRET_PREFIX):
                raise ValueError(f"LTS_RELEASE_{name.upper()} must be set outside local")
        return self

    # -- core (relcore): backports, gates, candidates
    core_essential_gates: list[Gate] = Field(
        default_factory=lambda: sorted(ESSENTIAL_GATES, key=list(Gate).index)
    )
    """Gates an emergency fast-track still waits for, JSON; the plan's other gates are
    skipped and flagged for the post-facto audit."""
    core_release_sla_hours: dict[Severity, float] = Field(
        default_factory=lambda: {s: d.total_seconds() / 3600 for s, d in RELEASE_SLA.items()}
    )
    """Release SLA per severity in hours from plan approval, JSON `{"critical": 72}`."""

    lts_lines: list[LtsLineSetting] = Field(
        default_factory=default_line_settings,
        validation_alias=AliasChoices(SUPPORT_MATRIX_ENV, "lts_lines"),
    )
    """The support matrix shared with intake and triage (`LTS_SUPPORT_MATRIX`), JSON
    `[{"version": "1.4", "end_of_support": "2028-12-31"}]`: the lines candidates are made for."""
    core_released_versions: dict[str, str] = Field(default_factory=dict)
    """Each line's last version released before this service, JSON `{"1.4": "1.4.2"}`: the
    base of its first candidate's version (none: the line starts at X.Y.0)."""

    def lines(self) -> tuple[LtsLine, ...]:
        return lines_of(self.lts_lines)

    def released_baselines(self) -> dict[str, Version]:
        return {line: Version(v) for line, v in self.core_released_versions.items()}

    def backport_policy(self) -> BackportPolicy:
        return BackportPolicy(
            essential_gates=frozenset(self.core_essential_gates),
            release_sla={s: timedelta(hours=h) for s, h in self.core_release_sla_hours.items()},
        )

    # -- rollout (relroll) ------------------------------------------------------------------
    rollout_phases: tuple[CanaryPhase, ...] = SEED_PHASES
    """Canary phases, a JSON list of `{weight, duration_seconds, thresholds}` (thresholds: upper
    bounds by metric name); the default is seed 003: 1% 24 h (error_rate < 0.001, p95_ms < 200),
    10% 48 h (error_rate < 0.0005), 50% 72 h, 100%."""

    rollout_immediate_watch_seconds: int = Field(default=3600, ge=0)
    """How long an `immediate` rollout (one phase at 100%) is watched before it completes."""

    rollout_consecutive_failure_limit: int = Field(default=2, ge=1)
    """Failed readings of a critical check in a row that roll back (one flaky reading does not)."""

    rollout_inconclusive_limit: int = Field(default=3, ge=1)
    """Inconclusive readings of a check in a row that halt the rollout."""

    rollout_dry_run: bool = False
    """Record the analysis and what it would do, never halt or roll back on it."""

    rollout_rollback_limit_seconds: int = Field(default=300, ge=1)
    """A rollback not completed this long after it started is `RollbackOverdue` (seed: 5 min)."""

    rollout_rollback_retry_seconds: int = Field(default=10, ge=1)
    """Pause before a rollback whose channels failed is tried again."""

    rollout_critical_severities: tuple[str, ...] = ("critical",)
    """Health alerts with one of these `severity` labels are critical checks (they roll back)."""

    rollout_health_topic: str = "lts.inbound.health"
    """Topic of the health alerts (CloudEvents with Alertmanager-style data)."""

    rollout_prometheus_url: str | None = None
    """Prometheus HTTP API base URL; unset: no Prometheus analysis, health alerts only."""

    rollout_prometheus_queries: dict[str, str] = {"error_rate": _ERROR_RATE, "p95_ms": _P95_MS}
    """PromQL per metric name a phase threshold names; `{{version}}`, `{{line}}` and
    `{{service}}` are filled in."""

    rollout_analysis_interval_seconds: int = Field(default=60, ge=1)
    """How often each running rollout's Prometheus queries are evaluated."""

    rollout_prometheus_timeout_seconds: float = Field(default=5.0, gt=0)
    """Timeout of one Prometheus query."""

    def rollout_policy(self) -> RolloutPolicy:
        return RolloutPolicy(
            phases=self.rollout_phases,
            immediate_watch_seconds=self.rollout_immediate_watch_seconds,
            consecutive_failure_limit=self.rollout_consecutive_failure_limit,
            inconclusive_limit=self.rollout_inconclusive_limit,
            dry_run=self.rollout_dry_run,
            rollback_limit_seconds=self.rollout_rollback_limit_seconds,
            rollback_retry_seconds=self.rollout_rollback_retry_seconds,
            critical_severities=frozenset(s.lower() for s in self.rollout_critical_severities),
        )

    # -- staging (relstage)
    stage_data_dir: Path | None = None
    """Staging's data directory: the content-addressed artifact store (`blobs/`) and, in the
    local environment, the generated development signing key; default `$LTS_HOME/release`."""
    stage_signing_key: SecretStr | None = None
    """The release signing key, PEM (unencrypted PKCS#8 or SEC1; ECDSA P-256 or Ed25519). A
    secret: it never reaches an event, a log line or an HTTP answer."""
    stage_signing_key_file: Path | None = None
    """File holding the release signing key (PEM), when not given inline; outside the local
    environment one of the two is required, else the service refuses to start."""
    stage_builder_id: str = "https://lts-flow.dev/release-service"
    """SLSA `runDetails.builder.id` (a URI) in every candidate's provenance and manifest."""
    stage_max_artifact_bytes: int = 2 * 1024**3
    """Largest artifact one upload may store (bytes); a larger body is refused, nothing kept."""
    stage_max_sbom_bytes: int = 16 * 1024**2
    """Largest SBOM CI may upload for an artifact (bytes)."""

    def stage_dir(self) -> Path:
        return self.stage_data_dir or lts_home() / "release"
