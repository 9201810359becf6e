"""Publication built from the settings: the package index channel when `LTS_RELEASE_PYPI_URL`
is set, the release page always, reading the files from the staging part's artifact store."""

from __future__ import annotations

from collections.abc import Sequence

from lts_events.clock import Clock
from lts_events.store.port import EventStore

from lts_release.channels.base import Channel, FileSource
from lts_release.channels.package_index import IndexConfig, PackageIndexChannel, simple_url_for
from lts_release.channels.release_page import ReleasePageChannel
from lts_release.channels.retry import RetryPolicy
from lts_release.config import Settings
from lts_release.publication.service import ChannelsFor, Publication

RELATIVE_PAGE_URL = "/releases/"


def page_channel(settings: Settings, base_url: str | None = None) -> ReleasePageChannel:
    """The release page; its URLs start with the configured public URL, else the URL the
    request reached the service at, else `/releases/` (relative)."""
    return ReleasePageChannel(
        settings.page_dir, settings.pub_page_url or base_url or RELATIVE_PAGE_URL
    )


def index_channel(settings: Settings) -> PackageIndexChannel | None:
    if not settings.pypi_url:
        return None
    password = settings.pypi_password
    return PackageIndexChannel(
        IndexConfig(
            upload_url=settings.pypi_url,
            simple_url=simple_url_for(settings.pypi_url, settings.pypi_simple_url),
            username=settings.pypi_username,
            password=password.get_secret_value() if password else None,
            retry=RetryPolicy(attempts=max(1, settings.pub_retry_attempts)),
        )
    )


def channels_for(settings: Settings) -> ChannelsFor:
    """The index first (the likelier to refuse), then the page that links to everything."""
    index = index_channel(settings)

    def channels(base_url: str | None) -> Sequence[Channel]:
        page = page_channel(settings, base_url)
        return (index, page) if index is not None else (page,)

    return channels


def build_publication(
    settings: Settings, store: EventStore, source: FileSource, clock: Clock
) -> Publication:
    return Publication(
        store=store,
        source=source,
        channels=channels_for(settings),
        clock=clock,
        baselines=settings.released_baselines(),
    )
