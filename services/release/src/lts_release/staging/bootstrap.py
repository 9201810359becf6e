"""Staging built from the settings: the artifact store under the data directory and the
signing key (configured, or the local environment's development key)."""

from __future__ import annotations

from lts_events.clock import Clock
from lts_events.settings import common_settings
from lts_events.store.port import EventStore

from lts_release.config import Settings
from lts_release.staging.keys import Signer, load_signer
from lts_release.staging.service import Staging
from lts_release.staging.store import FilesystemBlobStore


def signer_of(settings: Settings) -> Signer:
    secret = settings.stage_signing_key
    local = common_settings().environment == "local"
    return load_signer(
        secret_pem=secret.get_secret_value() if secret else None,
        key_file=settings.stage_signing_key_file,
        dev_data_dir=settings.stage_dir() if local else None,
    )


def build_staging(settings: Settings, store: EventStore, clock: Clock) -> Staging:
    return Staging(
        store,
        FilesystemBlobStore(settings.stage_dir() / "blobs"),
        signer_of(settings),
        clock=clock,
        builder_id=settings.stage_builder_id,
        max_artifact_bytes=settings.stage_max_artifact_bytes,
        max_sbom_bytes=settings.stage_max_sbom_bytes,
    )
