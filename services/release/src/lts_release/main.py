"""Composition root: the release service as a `ServiceSpec` for the shared host."""

from __future__ import annotations

from lts_events.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="release",
    title="LTS Flow release: gates, signed candidates, publication, canary and rollback",
)


def main() -> None:
    serve(SPEC)
