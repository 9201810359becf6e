"""The scenarios: which process is SIGKILLed (or frozen by SIGSTOP) at which point of the load,
and for how long it stays down before it is started again (or thawed). Data only; `faults.py`
carries them out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lts_events.registry import SERVICES

from chaos.observe import PIPELINE

EVERY_SERVICE = tuple(service.name for service in SERVICES)

Target = Literal[
    "intake",
    "triage",
    "metrics",
    "kafka",
    "postgres",
    "intake-leader",
    "triage-leader",
    "metrics-leader",
    "release-leader",
    "comms-leader",
]
"""A process, the broker or the database server; `<service>-leader`: whichever replica of the
service leads (relay, timers, projections) when the fault comes."""
TARGETS: tuple[Target, ...] = ("intake", "triage", "metrics", "kafka", "postgres")
Load = Literal["alerts", "releases"]
"""What a fault's point is a fraction of: the alerts Kafka acknowledged, or the release load's
steps done (`releases.STEPS_PER_RELEASE` per release)."""
How = Literal["kill", "pause"]
"""SIGKILL then a restart, or SIGSTOP then SIGCONT (every process of the server)."""


@dataclass(frozen=True)
class Fault:
    target: Target
    at: float
    """When: the fraction of the load's deliveries Kafka has acknowledged (0.4 = 40%), or of
    the release load's steps (`of`)."""
    down_for: float = 3.0
    """Seconds between the SIGKILL and the restart (the outage chosen for the scenario)."""
    of: Load = "alerts"
    how: How = "kill"


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: tuple[Fault, ...]
    replicas: int = 1
    """Processes per service."""
    services: tuple[str, ...] = PIPELINE
    """The services run (each with `replicas` processes), checked and verified."""
    releases: int = 0
    """Tickets of the load taken on to a published release rolled back (`releases.py`), one
    after the other, while the faults come."""


def _alone(target: Target, down_for: float, how: How = "kill") -> Scenario:
    return Scenario(f"{how}-{target}", (Fault(target, at=0.4, down_for=down_for, how=how),))


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("baseline", ()),
        _alone("intake", 2.0),
        _alone("triage", 2.0),
        _alone("metrics", 2.0),
        _alone("kafka", 5.0),
        _alone("postgres", 5.0),
        # frozen longer than a consumer's session (10 s): the group coordinator drops it, and
        # the batch it was handling is committed by no one, redelivered and must not count twice
        _alone("triage", 15.0, how="pause"),
        _alone("kafka", 15.0, how="pause"),
        _alone("postgres", 15.0, how="pause"),
        Scenario(
            "replicas",
            (
                Fault("intake-leader", at=0.2),
                Fault("triage-leader", at=0.4),
                Fault("metrics-leader", at=0.6),
                # of 3 releases of 8 steps: release's leader dies once the second release's
                # candidate is open (staged, sealed and published meanwhile), comms' once that
                # release is published (its note approved and mailed meanwhile)
                Fault("release-leader", at=0.5, of="releases"),
                Fault("comms-leader", at=0.62, of="releases"),
                # frozen, not killed: its lock connection stays open until the server closes
                # it as idle, then another replica leads; thawed 3 s after that
                Fault("triage-leader", at=0.8, down_for=3.0, how="pause"),
            ),
            replicas=2,
            services=EVERY_SERVICE,
            releases=3,
        ),
        Scenario(
            "everything",
            (
                *(
                    Fault(target, at=at, down_for=3.0)
                    for target, at in zip(TARGETS, (0.1, 0.25, 0.4, 0.55, 0.7), strict=True)
                ),
                Fault("triage", at=0.8, down_for=11.0, how="pause"),
                Fault("postgres", at=0.9, down_for=11.0, how="pause"),
            ),
        ),
    )
}
SMALL = ("everything",)
"""The scenarios of the small run in `make test`: every kind of fault in one load (each of
the five killed, then a consumer frozen past its session and the database server frozen)."""
