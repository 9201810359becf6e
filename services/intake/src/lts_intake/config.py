"""Settings of the intake service (env prefix `LTS_INTAKE_`)."""

from __future__ import annotations

from pathlib import Path

from lts_events.support import (
    SUPPORT_MATRIX_ENV,
    LtsLineSetting,
    default_line_settings,
    lines_of,
)
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_intake.standardize import DEFAULT_PRODUCT_PACKAGES, IntakePolicy

DEV_SECRET_PREFIX = "dev-"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LTS_INTAKE_", frozen=True, use_attribute_docstrings=True, populate_by_name=True
    )

    environment: str = Field(
        default="local",
        validation_alias=AliasChoices("LTS_INTAKE_ENVIRONMENT", "LTS_ENVIRONMENT"),
    )
    """As `LTS_ENVIRONMENT`, for intake alone: outside `local` its dev webhook secrets are
    refused."""
    lts_lines: list[LtsLineSetting] = Field(
        default_factory=default_line_settings,
        validation_alias=AliasChoices(SUPPORT_MATRIX_ENV, "lts_lines"),
        description="The supported LTS lines, shared by intake and triage, JSON "
        '`[{"version": "1.4", "end_of_support": "2028-12-31"}]`',
    )
    product_packages: list[str] = Field(
        default=list(DEFAULT_PRODUCT_PACKAGES),
        description="PyPI names of the product: advisories about other packages are ignored; "
        "empty: every affected package counts",
    )
    project_modules: list[str] = Field(
        default=[], description="Top-level module names of the product, for traceback summaries"
    )
    github_webhook_secret: SecretStr = SecretStr("dev-github-webhook-secret")
    """HMAC secret of GitHub's webhook deliveries (`X-Hub-Signature-256`)."""
    gitlab_webhook_token: SecretStr = SecretStr("dev-gitlab-webhook-token")
    """Token GitLab sends in `X-Gitlab-Token` with its webhooks."""
    alert_webhook_token: SecretStr = SecretStr("dev-alert-webhook-token")
    """Bearer token Alertmanager and Grafana send with their webhook notifications."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest request body accepted; larger ones get 413 before they are parsed."""
    git_repo_path: Path | None = None
    """A clone of the product's repository, to name the commits of a release an alert may be a
    regression of; unset: no git lookups."""
    regression_window_hours: float = Field(default=24.0, gt=0)
    """An alert starting this soon after a release is labelled a possible regression of it."""
    inbound_alerts_topic: str = Field(
        default="lts.inbound.alerts", description="Renamed only for isolated tests"
    )
    release_topic: str = "lts.release.events"
    """Topic of the release service's events (releases shipped, for regressions)."""

    def policy(self) -> IntakePolicy:
        return IntakePolicy(
            lines=lines_of(self.lts_lines),
            product_packages=tuple(self.product_packages),
            project_modules=tuple(self.project_modules),
        )

    @model_validator(mode="after")
    def _no_dev_secrets_outside_local(self) -> Settings:
        if self.environment == "local":
            return self
        for name in ("github_webhook_secret", "gitlab_webhook_token", "alert_webhook_token"):
            secret: SecretStr = getattr(self, name)
            if secret.get_secret_value().startswith(DEV_SECRET_PREFIX):
                raise ValueError(
                    f"LTS_INTAKE_{name.upper()} must be set outside the local environment"
                )
        return self
