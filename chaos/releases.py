"""The release load of `replicas`: a few of the load's tickets taken, one after the other, from
the approved plan to a published release rolled back, through release's and comms' real
inputs while their leaders are killed: plan approvals over triage's HTTP API, CI results as
CloudEvents on `lts.inbound.ci`, sign-offs, a candidate, its wheel and sdist, the seal and the
publication over release's HTTP API (the run's own package index), a critical health alert on
`lts.inbound.health` that rolls the canary back; in between, the communications lead approves
the release note over comms' API. Comms mails (the run's own SMTP server) the note, and the
internal status of each publication and rollback on its own.

Every request goes to whichever replica answers (a killed one refuses, the other is asked), and
every step is one a careful client may repeat: all of them are idempotent on the services' side
but opening a candidate, which is asked again only when no candidate of that version exists.
What the leg did (`Released`) is what `release_checks` expects to find exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from lts_devtools.demo_release import sdist, wheel

from chaos.load import Delivery, Progress, cloudevent, send

log = logging.getLogger(__name__)

CI_INBOUND = "lts.inbound.ci"
HEALTH_INBOUND = "lts.inbound.health"
STEPS_PER_RELEASE = 8
"""approve, CI, sign-offs, candidate, stage and seal, publish, the release note approved, roll
back: the leg's progress."""
STEP_TIMEOUT = 120.0
"""How long one step may wait for the services (a takeover, a rebalance, the consumers)."""
UNAVAILABLE = (502, 503, 504)


class LegFailed(RuntimeError):
    """A step of the release load did not come through before its timeout."""


@dataclass(frozen=True)
class Released:
    """One round of the leg: what it asked for, each of which must be decided once."""

    ticket_id: int
    lines: tuple[str, ...]
    """Every line the approved plan targets (each gets a backport)."""
    line: str
    """The line released (the plan's first)."""
    candidate_id: str
    version: str
    artifacts: tuple[str, ...]


@dataclass
class ReleaseLeg:
    urls: dict[str, tuple[str, ...]]
    """Every replica's URL, per service."""
    kafka_bootstrap_servers: str
    namespace: str
    project: str
    """The package the candidates ship (unique per run: the package index is the run's)."""
    progress: Progress
    approved: list[int] = field(default_factory=list)
    """The tickets whose plan it approved (each then owes no approval reminder)."""
    released: list[Released] = field(default_factory=list)
    replayed: int = 0
    """The messages of its decisions published a second time afterwards (`replay.py`)."""
    _turn: int = 0
    http: httpx.AsyncClient = field(init=False)

    async def run(self, rounds: int) -> None:
        """`rounds` releases, one after the other; a step that fails ends the leg (the check
        then counts the releases that did not come through)."""
        if not rounds:
            return
        async with httpx.AsyncClient(timeout=30.0) as self.http:
            try:
                for ticket_id in await self._tickets(rounds):
                    self.released.append(await self._release(ticket_id))
                    log.info("releases: %s published and rolled back", self.released[-1].version)
            except LegFailed as error:
                log.error("releases: stopped after %d: %s", len(self.released), error)

    async def _tickets(self, count: int) -> list[int]:
        async def listed() -> list[int] | None:
            answer = await self._send("intake", "GET", f"/tickets?limit={count}", role="analyst")
            ids = [int(t["ticket_id"]) for t in answer.json()["tickets"]]
            return ids if len(ids) == count else None

        tickets: list[int] = await _wait(f"{count} tickets opened", listed)
        return tickets

    async def _release(self, ticket_id: int) -> Released:
        lines = await self._approve(ticket_id)
        line = lines[0]
        head = hashlib.sha1(f"{self.namespace}{ticket_id}-{line}".encode()).hexdigest()
        await self._ci_green(ticket_id, line, head)
        await self._sign_off(ticket_id, line)
        candidate = await self._open_candidate(line, ticket_id)
        version, candidate_id = candidate["version"], candidate["candidate_id"]
        artifacts = await self._stage_and_seal(candidate_id, version)
        published = await self._publish(candidate_id)
        await self._release_note(version)
        await self._roll_back(line, version, published["previous_safe_version"])
        return Released(ticket_id, lines, line, candidate_id, version, artifacts)

    async def _approve(self, ticket_id: int) -> tuple[str, ...]:
        view = await _wait(
            f"the plan of ticket {ticket_id}",
            self._view("triage", f"/tickets/{ticket_id}/triage", lambda v: v.get("plan")),
        )
        plan = view["plan"]
        self.approved.append(ticket_id)
        for role in view["missing_approvals"]:
            await self._send(
                "triage",
                "POST",
                f"/tickets/{ticket_id}/approvals",
                role=role,
                json={"role": role, "comment": "approved by the chaos run"},
                headers={"If-Match": f'"{plan["revision"]}"'},
            )
        await self.progress.advance(1)
        return tuple(branch.rsplit("/v", 1)[1] for branch in plan["target_branches"])

    async def _ci_green(self, ticket_id: int, line: str, head: str) -> None:
        backport = await _wait(
            f"the v{line} backport of {ticket_id}",
            self._view("release", f"/backports/{ticket_id}/{line}", lambda v: True),
        )
        results = [
            _ci_result(backport["patch_branch"], head, gate) for gate in backport["required_gates"]
        ]
        await self._publish_events(CI_INBOUND, results)
        await _wait(
            f"green gates on the v{line} backport of {ticket_id}",
            self._view(
                "release",
                f"/backports/{ticket_id}/{line}",
                lambda v: (
                    v["head_commit"] == head and all(g["status"] == "passed" for g in v["gates"])
                ),
            ),
        )
        await self.progress.advance(1)

    async def _sign_off(self, ticket_id: int, line: str) -> None:
        path = f"/backports/{ticket_id}/{line}"
        backport = await _wait("the backport", self._view("release", path, lambda v: True))
        kinds = [("qa", "qa")]
        if backport["security_sign_off_required"]:
            kinds.append(("security", "security_reviewer"))
        for kind, role in kinds:
            await self._send(
                "release",
                "POST",
                f"{path}/sign-offs",
                role=role,
                json={"kind": kind, "commit": backport["head_commit"], "comment": "chaos"},
            )
        await _wait(
            f"the v{line} backport of {ticket_id} ready",
            self._view("release", path, lambda v: v["status"] == "ready"),
        )
        await self.progress.advance(1)

    async def _open_candidate(self, line: str, ticket_id: int) -> dict[str, Any]:
        """Opening is the one request that is not idempotent (a second one opens rc2): after an
        answer lost with its replica, the candidate of the line's next version is looked up
        before asking again."""
        summary = await self._send("release", "GET", f"/lines/{line}", role="release_manager")
        expected = f"{summary.json()['next_version']}rc1"
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            found = await self._send(
                "release", "GET", f"/candidates/{expected}", role="release_manager", missing=True
            )
            if found.status_code == 200:
                break
            try:
                answer = await self._send_once(
                    "release", "POST", f"/lines/{line}/candidates", role="release_manager"
                )
            except httpx.TransportError:
                continue
            if answer.status_code not in UNAVAILABLE:
                _check(answer, f"POST /lines/{line}/candidates for ticket {ticket_id}")
                break
            await asyncio.sleep(0.5)
        else:
            raise LegFailed(f"no candidate {expected} opened")
        candidate = await self._send(
            "release", "GET", f"/candidates/{expected}", role="release_manager"
        )
        await self.progress.advance(1)
        opened: dict[str, Any] = candidate.json()
        return opened

    async def _stage_and_seal(self, candidate_id: str, version: str) -> tuple[str, ...]:
        files = (wheel(self.project, version), sdist(self.project, version))
        for name, data in files:
            await self._send(
                "release",
                "POST",
                f"/candidates/{candidate_id}/artifacts",
                role="automation",
                params={"name": name, "sha256": hashlib.sha256(data).hexdigest()},
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
        await self._send(
            "release", "POST", f"/candidates/{candidate_id}/seal", role="release_manager"
        )
        await self.progress.advance(1)
        return tuple(name for name, _ in files)

    async def _publish(self, candidate_id: str) -> dict[str, Any]:
        answer = await self._send(
            "release", "POST", f"/candidates/{candidate_id}/publish", role="release_manager"
        )
        await self.progress.advance(1)
        published: dict[str, Any] = answer.json()
        return published

    async def _release_note(self, version: str) -> None:
        """The communications lead approves the note comms drafted for the publication, its
        latest revision until one is released (new facts may redraft it first); comms then
        mails it on its own."""
        path = f"/documents/release-note-{version}"
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            note = await _wait(
                f"the release note of {version}", self._view("comms", path, lambda v: v)
            )
            if note["status"] == "released":
                break
            # released in the same append as the approval; 409: a newer revision came first,
            # which the next look approves
            await self._send(
                "comms",
                "POST",
                f"{path}/approvals",
                role="communications_lead",
                json={"revision": note["revision"], "comment": "approved by the chaos run"},
                refused=True,
            )
        else:
            raise LegFailed(f"the release note of {version} was not released")
        await self.progress.advance(1)

    async def _roll_back(self, line: str, version: str, safe: str | None) -> None:
        """The canary the publication started, failed by a critical health alert (Alertmanager
        sends it again while it fires: twice here) and rolled back to the line's safe version.
        Publication knows only the safe versions it published: with none (every earlier one
        rolled back), the release manager starts the canary with the line's baseline."""
        if safe is None:
            summary = await self._send("release", "GET", f"/lines/{line}", role="release_manager")
            await self._send(
                "release",
                "POST",
                "/rollouts",
                role="release_manager",
                json={
                    "version": version,
                    "line": line,
                    "previous_safe_version": summary.json()["safe_version"],
                },
            )
        await _wait(
            f"the canary of {version}", self._view("release", f"/rollouts/{version}", lambda v: v)
        )
        await self._publish_events(HEALTH_INBOUND, [_health_alert(self.namespace, version)] * 2)
        await _wait(
            f"the rollback of {version}",
            self._view(
                "release",
                f"/rollouts/{version}",
                lambda v: (v.get("rollback") or {}).get("completed_at"),
            ),
        )
        await self.progress.advance(1)

    # --- requests ----------------------------------------------------------------------------

    async def _publish_events(self, topic: str, events: Sequence[Delivery]) -> None:
        await send(
            self.kafka_bootstrap_servers,
            self.namespace + topic,
            events,
            rate=1000.0,
            progress=Progress(len(events)),
        )

    def _view(
        self, service: str, path: str, ready: Callable[[dict[str, Any]], Any]
    ) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def probe() -> dict[str, Any] | None:
            answer = await self._send(service, "GET", path, role="release_manager", missing=True)
            if answer.status_code == 404:
                return None
            view: dict[str, Any] = answer.json()
            return view if ready(view) else None

        return probe

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        role: str,
        missing: bool = False,
        refused: bool = False,
        **kw: Any,
    ) -> httpx.Response:
        """The first answer of any replica that is up (a 404 only when `missing`, a 409 only
        when `refused`); a replica killed mid-request is asked again on the next, as the step
        is idempotent."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                answer = await self._send_once(service, method, path, role=role, **kw)
            except httpx.TransportError:
                continue
            if answer.status_code not in UNAVAILABLE:
                allowed = {404: missing, 409: refused}.get(answer.status_code, False)
                if not allowed:
                    _check(answer, f"{service} {method} {path}")
                return answer
            await asyncio.sleep(0.5)
        raise LegFailed(f"{service} {method} {path}: no replica answered")

    async def _send_once(
        self,
        service: str,
        method: str,
        path: str,
        *,
        role: str,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """One try on each replica in turn, starting with the one after the last asked."""
        urls = self.urls[service]
        self._turn = (self._turn + 1) % len(urls)
        asked = {"Authorization": f"Bearer dev-{role}", **(headers or {})}
        failure = httpx.TransportError("no replica")
        for url in (*urls[self._turn :], *urls[: self._turn]):
            try:
                return await self.http.request(method, url + path, headers=asked, **kw)
            except httpx.TransportError as error:
                failure = error
        await asyncio.sleep(0.5)  # every replica down: a restart is under way
        raise failure


def _check(answer: httpx.Response, what: str) -> None:
    if answer.status_code >= 400:
        raise LegFailed(f"{what} answered {answer.status_code}: {answer.text[:300]}")


async def _wait(what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        found = await probe()
        if found is not None and found is not False:
            return found
        await asyncio.sleep(0.3)
    raise LegFailed(f"timed out after {STEP_TIMEOUT:.0f} s waiting for {what}")


def _cloudevent(key: str, event_id: str, kind: str, data: dict[str, Any]) -> Delivery:
    return cloudevent(key, event_id, kind, data, source="//chaos.lts-flow.test/releases")


def _ci_result(branch: str, commit: str, gate: str) -> Delivery:
    """One passed job per required gate, named so the default gate patterns map it back
    (`security_scan` -> `security-scan` matches `*security*`, and so on)."""
    job = gate.replace("_", "-")
    data = {"branch": branch, "commit": commit, "job": job, "status": "passed"}
    return _cloudevent(branch, f"{branch}-{commit}-{job}", "lts.ci.result", data)


def _health_alert(namespace: str, version: str) -> Delivery:
    alert = {
        "status": "firing",
        "labels": {"alertname": "ChaosCanaryErrors", "severity": "critical", "version": version},
        "annotations": {"summary": "error rate doubled on the canary (chaos)"},
    }
    return _cloudevent(
        version, f"{namespace}health-{version}", "org.prometheus.alert.firing", alert
    )
