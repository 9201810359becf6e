"""Carrying out a scenario: SIGKILL a service, the broker or the database server at its point of
the load, leave it down for the chosen time, start it again. Meanwhile a supervisor starts again
any service that exits by itself (as systemd or Kubernetes would) and counts those restarts."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from chaos.infra import ChaosInfrastructure
from chaos.load import Progress
from chaos.scenarios import Fault, Target
from harness.stack import Stack

log = logging.getLogger(__name__)
SUPERVISION_INTERVAL = 0.5


@dataclass
class World:
    infra: ChaosInfrastructure
    stack: Stack
    killed: set[str] = field(default_factory=set)
    """Services killed on purpose and not started again yet: not the supervisor's business."""
    unplanned_restarts: dict[str, int] = field(default_factory=dict)

    def kill(self, target: Target) -> None:
        if target == "kafka":
            self.infra.kill_kafka()
        elif target == "postgres":
            self.infra.kill_postgres()
        else:
            self.killed.add(target)
            self.stack.services[target].kill()

    def restart(self, target: Target) -> None:
        if target == "kafka":
            self.infra.restart_kafka()
        elif target == "postgres":
            self.infra.restart_postgres()
        else:
            self.stack.services[target].start()
            self.killed.discard(target)

    def restart_exited(self) -> None:
        for name, service in self.stack.services.items():
            if name in self.killed or service.exit_code() is None:
                continue
            log.warning("%s exited by itself (%s); starting it again", name, service.exit_code())
            self.unplanned_restarts[name] = self.unplanned_restarts.get(name, 0) + 1
            service.start()


async def inject(world: World, faults: tuple[Fault, ...], progress: Progress) -> None:
    """The faults one after the other, each at its point of the load."""
    for fault in sorted(faults, key=lambda f: f.at):
        await progress.reached(fault.at)
        log.info("chaos: SIGKILL %s at %d deliveries", fault.target, progress.acknowledged)
        await asyncio.to_thread(world.kill, fault.target)
        await asyncio.sleep(fault.down_for)
        await asyncio.to_thread(world.restart, fault.target)
        log.info("chaos: %s started again", fault.target)


async def supervise(world: World) -> None:
    """Until cancelled: start again every service that exited without being killed on purpose."""
    while True:
        await asyncio.to_thread(world.restart_exited)
        await asyncio.sleep(SUPERVISION_INTERVAL)
