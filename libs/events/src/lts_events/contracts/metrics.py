"""Events of the metrics service's own inputs (stored in its store, never relayed): what upstream
tells it about the adoption of LTS releases. No personal data: a count per package and version,
never who downloaded or pinged (no address, no user agent, no deployment id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from lts_events.event import Event

PACKAGE_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$"
"""A package name as the index spells it (PEP 508 names: no `:` and no spaces)."""
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$"


def adoption_stream(kind: str, package: str) -> str:
    """The metrics store's stream of one package's download counts or pings (no `:`: the audit
    log's copies of other services' streams are the only ids with one)."""
    return f"adoption-{kind}-{package.lower()}"


class DownloadsCounted(Event):
    """`count` downloads of `package` `version` from the package channel, as the index server's
    access log reported them on `lts.inbound.adoption` (one CloudEvent, once)."""

    type: ClassVar[str] = "lts.metrics.downloads_counted"

    package: str = Field(pattern=PACKAGE_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    count: int = Field(ge=0)
    counted_at: datetime = Field(description="When the downloads happened (the event's time)")
    origin: str = Field(max_length=200, description="The CloudEvents source that reported them")


class TelemetryPingReceived(Event):
    """One running deployment said which version it runs (`POST /telemetry/ping`). Only the
    package, the version and the time are kept."""

    type: ClassVar[str] = "lts.metrics.telemetry_ping_received"

    package: str = Field(pattern=PACKAGE_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    received_at: datetime
