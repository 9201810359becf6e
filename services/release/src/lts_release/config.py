"""The release service's settings (`LTS_RELEASE_*`)."""

from __future__ import annotations

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
