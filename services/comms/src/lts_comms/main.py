"""Composition root: the comms service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from lts_events.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="comms",
    title="LTS Flow comms: release notes, advisories under embargo, internal status, delivery",
)


def main() -> None:
    serve(SPEC)
