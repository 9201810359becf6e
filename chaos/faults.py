"""Carrying out a scenario: SIGKILL a service, the broker or the database server at its point of
the load, leave it down for the chosen time, start it again; or SIGSTOP it (every process of
it) for the chosen time and SIGCONT it: frozen, its connections open but silent, as a VM paused
by its host, a long GC pause or a network that drops packets. With replicas, a
`<service>-leader` fault kills (or freezes) whichever replica leads at that moment and measures
how long until another one leads. Meanwhile a supervisor starts again any service that exits by
itself (as systemd or Kubernetes would) and counts those restarts."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field

from chaos.infra import ChaosInfrastructure
from chaos.load import Progress
from chaos.scenarios import Fault, Load, Target
from harness.stack import Stack

log = logging.getLogger(__name__)
SUPERVISION_INTERVAL = 0.5
TAKEOVER_TIMEOUT = 60.0


@dataclass
class World:
    infra: ChaosInfrastructure
    stack: Stack
    killed: set[str] = field(default_factory=set)
    """Services killed on purpose and not started again yet: not the supervisor's business."""
    unplanned_restarts: dict[str, int] = field(default_factory=dict)
    takeovers: dict[str, float] = field(default_factory=dict)
    """Seconds from killing a service's leader until another replica led (inf: never)."""
    _leaders_killed: dict[str, str] = field(default_factory=dict)

    def kill(self, target: Target) -> None:
        if target == "kafka":
            self.infra.kill_kafka()
        elif target == "postgres":
            self.infra.kill_postgres()
        else:
            label = self._process_of(target)
            self.killed.add(label)
            self.stack.services[label].kill()
            if target.endswith("-leader"):
                self._await_takeover(target.removesuffix("-leader"), killed=label)

    def restart(self, target: Target) -> None:
        if target == "kafka":
            self.infra.restart_kafka()
        elif target == "postgres":
            self.infra.restart_postgres()
        else:
            label = self._leaders_killed.pop(target, target)
            self.stack.services[label].start()
            self.killed.discard(label)

    def _replicas(self, service: str) -> list[str]:
        return [label for label, p in self.stack.services.items() if p.name == service]

    def _process_of(self, target: Target) -> str:
        if not target.endswith("-leader"):
            return target
        service = target.removesuffix("-leader")
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while time.monotonic() < deadline:
            # every replica up first: a sibling still starting after an earlier fault would
            # put its start-up time into the takeover measured (9.6 s of it once, for 2 s)
            if not all(self.stack.services[r].started() for r in self._replicas(service)):
                time.sleep(0.2)
                continue
            leaders = [r for r in self._replicas(service) if self.stack.services[r].leading()]
            if leaders:
                self._leaders_killed[target] = leaders[0]
                return leaders[0]
            time.sleep(0.2)
        raise RuntimeError(f"no replica of {service} leads")

    def _await_takeover(self, service: str, *, killed: str) -> None:
        """How long until a surviving replica leads (recorded; the check judges it)."""
        started = time.monotonic()
        others = [r for r in self._replicas(service) if r != killed]
        while time.monotonic() - started < TAKEOVER_TIMEOUT:
            if any(self.stack.services[r].leading() for r in others):
                took = round(time.monotonic() - started, 2)
                # the longest of the service's takeovers counts
                self.takeovers[service] = max(took, self.takeovers.get(service, 0.0))
                log.info("chaos: %s led again after %.1fs", service, took)
                return
            time.sleep(0.1)
        self.takeovers[service] = float("inf")

    def freeze(self, target: Target) -> None:
        """SIGSTOP a service, the broker or every process of the database server. A frozen
        leader keeps its lock connection open: another replica leads only once the server
        closes it as idle (`lts_events.leadership`); how long that took is measured."""
        if target == "kafka":
            self.infra.signal_kafka(signal.SIGSTOP)
        elif target == "postgres":
            self.infra.signal_postgres(signal.SIGSTOP)
        else:
            label = self._process_of(target)
            self.stack.services[label].send_signal(signal.SIGSTOP)
            if target.endswith("-leader"):
                self._await_takeover(target.removesuffix("-leader"), killed=label)

    def thaw(self, target: Target) -> None:
        if target == "kafka":
            self.infra.signal_kafka(signal.SIGCONT)
        elif target == "postgres":
            self.infra.signal_postgres(signal.SIGCONT)
        else:
            label = self._leaders_killed.pop(target, target)
            self.stack.services[label].send_signal(signal.SIGCONT)

    def restart_exited(self) -> None:
        for name, service in self.stack.services.items():
            if name in self.killed or service.exit_code() is None:
                continue
            log.warning("%s exited by itself (%s); starting it again", name, service.exit_code())
            self.unplanned_restarts[name] = self.unplanned_restarts.get(name, 0) + 1
            service.start()


async def inject(world: World, faults: tuple[Fault, ...], progress: dict[Load, Progress]) -> None:
    """Each load's faults one after the other, in the scenario's order, each at its point of
    that load; the loads' sequences side by side, so a fault on the release load is not held
    back by the alerts' faults (it comes at its step, maybe while another service is down)."""
    loads = dict.fromkeys(fault.of for fault in faults)
    await asyncio.gather(
        *(
            _one_after_another(world, [f for f in faults if f.of == of], progress[of])
            for of in loads
        )
    )


async def _one_after_another(world: World, faults: list[Fault], progress: Progress) -> None:
    for fault in faults:
        await progress.reached(fault.at)
        log.info(
            "chaos: %s %s at %d of %d (%s)",
            "SIGSTOP" if fault.how == "pause" else "SIGKILL",
            fault.target,
            progress.acknowledged,
            progress.total,
            fault.of,
        )
        if fault.how == "pause":
            await asyncio.to_thread(world.freeze, fault.target)
            await asyncio.sleep(fault.down_for)
            await asyncio.to_thread(world.thaw, fault.target)
            log.info("chaos: %s thawed", fault.target)
            continue
        await asyncio.to_thread(world.kill, fault.target)
        await asyncio.sleep(fault.down_for)
        await asyncio.to_thread(world.restart, fault.target)
        log.info("chaos: %s started again", fault.target)


async def supervise(world: World) -> None:
    """Until cancelled: start again every service that exited without being killed on purpose."""
    while True:
        await asyncio.to_thread(world.restart_exited)
        await asyncio.sleep(SUPERVISION_INTERVAL)
