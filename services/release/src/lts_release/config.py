"""The release service's settings (`LTS_RELEASE_*`)."""

from __future__ import annotations

from pathlib import Path

from lts_events.infra.paths import lts_home
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
