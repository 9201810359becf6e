"""From an observation to the event that records it: the gate its job maps to (or the
format's own gate), the delivery id that makes it unique, the times, and the texts copied as
the producer sent them made storable."""

from __future__ import annotations

from datetime import datetime

from lts_events.contracts.release.ci import CiEvidence, CiResultRecorded

from lts_release.ci.gates import GateMap
from lts_release.ci.observation import MAX_NAME, Observation, text


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
        repository=text(observation.repository, limit=MAX_NAME) or None,
        branch=observation.branch,
        commit=observation.commit,
        job=observation.job,
        gate=gates.gate_for(observation.job) or observation.default_gate,
        status=observation.status,
        raw_status=text(observation.raw_status, limit=MAX_NAME),
        evidence=_storable_url(observation.evidence),
        reported_at=observation.reported_at or now,
        recorded_at=now,
    )


def _storable_url(evidence: CiEvidence) -> CiEvidence:
    """The one free-text field parsers copy as they find it (branch, commit and job are checked,
    report texts cleaned where they are read)."""
    url = text(evidence.run_url, limit=2000) or None
    return evidence if url == evidence.run_url else evidence.model_copy(update={"run_url": url})
