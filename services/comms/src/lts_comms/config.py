"""The comms service's settings (`LTS_COMMS_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from lts_comms.contexts import Links


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LTS_COMMS_",
        frozen=True,
        use_attribute_docstrings=True,
        extra="ignore",
        populate_by_name=True,
    )

    release_topic: str = "lts.release.events"
    """Topic of the release service's events (candidates, publications, rollouts, rollbacks)."""
    triage_topic: str = "lts.triage.events"
    """Topic of triage's events (severity, security flag, plan)."""
    intake_topic: str = "lts.intake.events"
    """Topic of intake's events (titles, CVE ids, the reporter to notify)."""
    template_dir: Path | None = None
    """Directory whose templates (same file names as the seed templates) replace the seeds."""
    package: str = "lts-flow"
    """The Python package the releases publish, for `pip install` lines and OSV records."""
    changelog_url: str = "https://example.org/changelog"
    """Base URL of the full changelog; a release's anchor is appended (`#v1.4.3`)."""
    advisory_url: str = "https://example.org/security/advisories"
    """Base URL of published advisories; the advisory id is appended."""
    security_contact: str = "security@example.org"
    """Where users report and ask about vulnerabilities (advisories' contact)."""
    osv_prefix: str = "x_LTS"
    """Prefix of this project's OSV ids; the OSV schema allows `x_` for a local database."""

    def links(self) -> Links:
        return Links(
            package=self.package,
            changelog_url=self.changelog_url,
            advisory_url=self.advisory_url,
            security_contact=self.security_contact,
            osv_prefix=self.osv_prefix,
        )
