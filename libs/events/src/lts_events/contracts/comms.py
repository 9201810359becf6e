"""Events of the comms service (topic `lts.comms.events`). Owned by the comms service."""

from __future__ import annotations
