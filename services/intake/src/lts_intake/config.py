"""Settings of the intake service (env prefix `LTS_INTAKE_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_intake.standardize import IntakePolicy

DEV_SECRET_PREFIX = "dev-"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LTS_INTAKE_", frozen=True)

    environment: str = Field(  # type: ignore[pydantic-alias]
        default="local",
        validation_alias=AliasChoices("LTS_INTAKE_ENVIRONMENT", "LTS_ENVIRONMENT"),
    )
    lts_lines: list[str] = Field(
        default=["release-lts/v1.3", "release-lts/v1.4", "release-lts/v1.5"],
        description="Supported LTS branches; `release-lts/vX.Y` covers versions X.Y.*",
    )
    product_packages: list[str] = Field(
        default=[],
        description="Package names (PyPI) of the product; empty: every affected package counts",
    )
    project_modules: list[str] = Field(
        default=[], description="Top-level module names of the product, for traceback summaries"
    )
    github_webhook_secret: SecretStr = SecretStr("dev-github-webhook-secret")
    gitlab_webhook_token: SecretStr = SecretStr("dev-gitlab-webhook-token")
    alert_webhook_token: SecretStr = SecretStr("dev-alert-webhook-token")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    git_repo_path: Path | None = None
    regression_window_hours: float = Field(default=24.0, gt=0)
    inbound_alerts_topic: str = Field(
        default="lts.inbound.alerts", description="Renamed only for isolated tests"
    )
    release_topic: str = "lts.release.events"

    def policy(self) -> IntakePolicy:
        return IntakePolicy(
            lts_lines=tuple(self.lts_lines),
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
