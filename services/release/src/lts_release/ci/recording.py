"""From an observation to the event that records it: the gate its job maps to (or the
format's own gate), the delivery id that makes it unique, and the times."""

from __future__ import annotations

from datetime import datetime

from lts_events.contracts.release.ci import CiResultRecorded

from lts_release.ci.gates import GateMap
from lts_release.ci.observation import Observation


def delivery_id(observation: Observation, delivery: str) -> str:
    """`delivery` identifies what arrived (a webhook delivery, a CloudEvent, an upload's
    content); an observation's key tells apart the several one delivery may carry."""
    return f"{delivery}#{observation.key}" if observation.key else delivery


def recorded(
    observation: Observation, *, delivery: str, gates: GateMap, now: datetime
) -> CiResultRecorded:
    return CiResultRecorded(
        source=observation.source,
        delivery_id=delivery_id(observation, delivery),
        repository=observation.repository,
        branch=observation.branch,
        commit=observation.commit,
        job=observation.job,
        gate=gates.gate_for(observation.job) or observation.default_gate,
        status=observation.status,
        raw_status=observation.raw_status,
        evidence=observation.evidence,
        reported_at=observation.reported_at or now,
        recorded_at=now,
    )
