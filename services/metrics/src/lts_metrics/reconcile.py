"""Audit completeness, decided: one producer's store against the audit log, event by event.

Pure: `reconcile_io.py` gathers the facts (the store's events in one snapshot, the relay's
checkpoint in it, whether the audit consumer had consumed everything published by then, the
audit log's copies read afterwards), this module says what they mean:

- **matched**: stored and audited (the same event id, in the audit stream of its stream);
- **in flight**: stored, not audited yet, and not yet due: beyond the relay's checkpoint (not
  published yet), or published while the audit consumer had not consumed its topic to the end;
- **missing**: stored, published, consumed, and still not in the audit log;
- **phantom**: in the audit log and in no store, also when looked up again after the audit
  log was read (an event appended after the store's snapshot is not a phantom).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lts_events.store.inspect import StoredRef
from lts_events.store.port import Checkpoint


@dataclass(frozen=True, slots=True)
class AuditedRef:
    """One audit copy: the producer's stream (the audit stream without its service), the
    producer's stream version as the envelope said, the event id and type."""

    stream_id: str
    stream_version: int | None
    event_id: str
    type: str


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the pipeline had got when the store was read."""

    relayed_to: Checkpoint | None
    """The relay's checkpoint in the same snapshot (None: never published anything)."""
    consumed: bool
    """The audit consumer had committed, on every partition of the topic, an offset at or past
    the end the topic had right after the snapshot: everything relayed by then was audited."""


@dataclass(frozen=True, slots=True)
class StreamCounts:
    stream_id: str
    stored: int
    audited: int
    missing: int
    phantom: int
    in_flight: int


@dataclass
class ServiceReport:
    service: str
    stored: int = 0
    audited: int = 0
    matched: int = 0
    streams: int = 0
    in_flight: list[StoredRef] = field(default_factory=list)
    missing: list[StoredRef] = field(default_factory=list)
    phantoms: list[AuditedRef] = field(default_factory=list)
    differing: list[StreamCounts] = field(default_factory=list)
    """Per stream, the streams whose stored and audited events are not the same."""
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.phantoms

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "ok": self.ok,
            "streams": self.streams,
            "stored": self.stored,
            "audited": self.audited,
            "matched": self.matched,
            "in_flight": [_stored_json(e) for e in self.in_flight],
            "missing": [_stored_json(e) for e in self.missing],
            "phantoms": [_audited_json(e) for e in self.phantoms],
            "differing_streams": [_counts_json(s) for s in self.differing],
            "note": self.note,
        }


def reconcile(
    service: str,
    stored: Sequence[StoredRef],
    audited: Sequence[AuditedRef],
    progress: Progress,
    *,
    stored_later: Iterable[str] = (),
) -> ServiceReport:
    """Compare one producer's stored events with their audit copies. `stored_later`: the
    audited ids absent from the snapshot that the store held when looked up afterwards."""
    audited_ids = {a.event_id for a in audited}
    stored_ids = {s.event_id for s in stored}
    later = set(stored_later)
    report = ServiceReport(service, stored=len(stored), audited=len(audited))
    for event in stored:
        if event.event_id in audited_ids:
            report.matched += 1
        elif _in_flight(event, progress):
            report.in_flight.append(event)
        else:
            report.missing.append(event)
    report.phantoms = [
        a for a in audited if a.event_id not in stored_ids and a.event_id not in later
    ]
    report.streams = len({s.stream_id for s in stored} | {a.stream_id for a in audited})
    report.differing = _differing(stored, audited, report)
    return report


def _in_flight(event: StoredRef, progress: Progress) -> bool:
    relayed = progress.relayed_to is not None and event.checkpoint <= progress.relayed_to
    return not (relayed and progress.consumed)


def _differing(
    stored: Sequence[StoredRef], audited: Sequence[AuditedRef], report: ServiceReport
) -> list[StreamCounts]:
    per_stored = Counter(s.stream_id for s in stored)
    per_audited = Counter(a.stream_id for a in audited)
    missing = Counter(s.stream_id for s in report.missing)
    phantom = Counter(a.stream_id for a in report.phantoms)
    flying = Counter(s.stream_id for s in report.in_flight)
    streams = sorted(set(missing) | set(phantom) | set(flying))
    return [
        StreamCounts(
            stream,
            per_stored[stream],
            per_audited[stream],
            missing[stream],
            phantom[stream],
            flying[stream],
        )
        for stream in streams
    ]


def _counts_json(counts: StreamCounts) -> dict[str, Any]:
    return {
        "stream": counts.stream_id,
        "stored": counts.stored,
        "audited": counts.audited,
        "missing": counts.missing,
        "phantom": counts.phantom,
        "in_flight": counts.in_flight,
    }


def _stored_json(event: StoredRef) -> dict[str, Any]:
    return {
        "stream": event.stream_id,
        "version": event.stream_version,
        "event_id": event.event_id,
        "type": event.type,
        "position": event.checkpoint.position,
    }


def _audited_json(event: AuditedRef) -> dict[str, Any]:
    return {
        "stream": event.stream_id,
        "version": event.stream_version,
        "event_id": event.event_id,
        "type": event.type,
    }
