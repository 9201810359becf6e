"""Events of the release service (topic `lts.release.events`). Owned by the release service."""

from __future__ import annotations
