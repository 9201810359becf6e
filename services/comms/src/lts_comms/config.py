"""The comms service's settings (`LTS_COMMS_*`)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


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
