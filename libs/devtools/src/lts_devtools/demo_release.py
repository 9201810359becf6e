"""`lts demo` past the approved plan, over HTTP only (services are independent: nothing of
lts_release or lts_comms is imported), as the release and comms services' own tests drive them:

CI results for the ticket's patch branches as GitHub sends them (signed `check_run` webhooks,
one job per gate) -> QA and security sign-offs -> a candidate for the plan's first line -> a
wheel and an sdist uploaded, sealed -> published -> the canary started by the publication ->
rolled back by an SRE (`POST /rollouts/{version}/rollback`) to the line's safe version -> the
documents comms drafted for the release and where they were delivered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import tarfile
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

import httpx
from lts_devtools.demo_http import StepFailed, check, console, token, wait_for

# One job per gate a security backport needs, named as the release service's default gate
# patterns map them (lint, unit, integration, regression, security scan, dependency scan).
CI_JOBS = ("lint", "unit", "integration", "backport-regression", "bandit", "pip-audit")
SETTLED = ("delivered", "gave up")
ROLLBACK_REASON = "error rate doubled on the canary pods (demo)"


@dataclass
class ReleaseLeg:
    http: httpx.AsyncClient
    release: str
    comms: str
    github_secret: str
    timeout: float

    async def run(self, ticket_id: int, plan: dict[str, Any]) -> str:
        """Every step from CI to the documents; the version released."""
        heads = {
            line: hashlib.sha1(f"{ticket_id}-{line}".encode()).hexdigest()
            for line in _lines(plan["target_branches"])
        }
        for line, head in heads.items():
            await self.ci_green(ticket_id, line, head)
        for line, head in heads.items():
            await self.sign_off(ticket_id, line, head)
        line = next(iter(heads))
        candidate = await self.open_candidate(line)
        version = candidate["version"]
        await self.stage_and_seal(candidate, project=f"ltsapp-demo-{uuid.uuid4().hex[:8]}")
        published = await self.publish(candidate)
        rolled_back = await self.canary(candidate, published)
        if rolled_back:
            await self.rollback(version)
        documents = await self.documents(version, "-rollback-" if rolled_back else "-published")
        await self.deliveries(documents)
        return str(version)

    # --- release ---------------------------------------------------------------------------

    async def ci_green(self, ticket_id: int, line: str, head: str) -> None:
        await self._wait(f"the v{line} backport", self._backport(ticket_id, line, lambda v: True))
        branch = f"lts/v{line}/issue-{ticket_id}"
        for job in CI_JOBS:
            body = json.dumps(_check_run(branch, head, job)).encode()
            digest = hmac.new(self.github_secret.encode(), body, hashlib.sha256).hexdigest()
            answer = await self.http.post(
                f"{self.release}/webhooks/github",
                content=body,
                headers={
                    "X-GitHub-Event": "check_run",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": f"sha256={digest}",
                    "Content-Type": "application/json",
                },
            )
            check(answer, f"release POST /webhooks/github ({job})")
        green = await self._wait(
            f"green gates on {branch}",
            self._backport(
                ticket_id,
                line,
                lambda v: (
                    v["head_commit"] == head and all(g["status"] == "passed" for g in v["gates"])
                ),
            ),
        )
        gates = ", ".join(g["gate"] for g in green["gates"])
        console.print(f"[bold]4.[/bold] CI green on {branch} @ {head[:7]}: {gates}")

    async def sign_off(self, ticket_id: int, line: str, head: str) -> None:
        for kind, role in (("qa", "qa"), ("security", "security_reviewer")):
            answer = await self.http.post(
                f"{self.release}/backports/{ticket_id}/{line}/sign-offs",
                json={"kind": kind, "commit": head, "comment": "verified on the patch branch"},
                headers=token(role),
            )
            check(answer, f"release sign-off {kind} on v{line}")
        await self._wait(
            f"the v{line} backport ready",
            self._backport(ticket_id, line, lambda v: v["status"] == "ready"),
        )
        console.print(f"[bold]5.[/bold] QA and security signed off v{line}: backport ready")

    async def open_candidate(self, line: str) -> dict[str, Any]:
        answer = await self.http.post(
            f"{self.release}/lines/{line}/candidates", headers=token("release_manager")
        )
        check(answer, f"release POST /lines/{line}/candidates")
        candidate: dict[str, Any] = answer.json()
        console.print(
            f"[bold]6.[/bold] candidate {candidate['tag']} for v{line}:"
            f" {candidate['previous_version']} -> [bold]{candidate['version']}[/bold]"
        )
        return candidate

    async def stage_and_seal(self, candidate: dict[str, Any], project: str) -> None:
        candidate_id, version = candidate["candidate_id"], candidate["version"]
        for name, data in (wheel(project, version), sdist(project, version)):
            answer = await self.http.post(
                f"{self.release}/candidates/{candidate_id}/artifacts",
                params={"name": name, "sha256": hashlib.sha256(data).hexdigest()},
                content=data,
                headers={**token("automation"), "Content-Type": "application/octet-stream"},
            )
            check(answer, f"release upload of {name}")
            console.print(f"[bold]7.[/bold] artifact uploaded: {name} ({len(data)} bytes)")
        answer = await self.http.post(
            f"{self.release}/candidates/{candidate_id}/seal", headers=token("release_manager")
        )
        check(answer, "release POST /candidates/{id}/seal")
        sealed = answer.json()
        console.print(
            f"[bold]8.[/bold] sealed and signed ({sealed['signing_algorithm']}):"
            f" bundle {sealed['bundle']['path']} sha256 {sealed['bundle']['sha256'][:12]}"
        )

    async def publish(self, candidate: dict[str, Any]) -> dict[str, Any]:
        answer = await self.http.post(
            f"{self.release}/candidates/{candidate['candidate_id']}/publish",
            headers=token("release_manager"),
        )
        check(answer, "release POST /candidates/{id}/publish")
        published: dict[str, Any] = answer.json()
        console.print(
            f"[bold]9.[/bold] published [bold]{candidate['version']}[/bold]"
            f" to {', '.join(published['channels'])}"
        )
        return published

    async def canary(self, candidate: dict[str, Any], published: dict[str, Any]) -> bool:
        """The canary the publication started, or, when the line's safe version was released
        before the service (`LTS_RELEASE_CORE_RELEASED_VERSIONS`), one started by the release
        manager with it; False when the line has no earlier release to roll back to."""
        version = candidate["version"]
        if published["previous_safe_version"] is None:
            if candidate["previous_version"] is None:
                console.print(
                    f"[bold]10.[/bold] no canary: {version} is the line's first release, there"
                    " is no safe version to roll back to (LTS_RELEASE_CORE_RELEASED_VERSIONS)"
                )
                return False
            answer = await self.http.post(
                f"{self.release}/rollouts",
                json={
                    "version": version,
                    "line": candidate["line"],
                    "previous_safe_version": candidate["previous_version"],
                },
                headers=token("release_manager"),
            )
            check(answer, "release POST /rollouts")
        started = await self._wait(f"the canary of {version}", self._rollout(version, _any))
        console.print(
            f"[bold]10.[/bold] canary of {version} started: {started['strategy']},"
            f" phase {started['phase']}/{started['phases']} at {started['weight']}%,"
            f" safe version {started['previous_safe_version']}"
        )
        return True

    async def rollback(self, version: str) -> None:
        answer = await self.http.post(
            f"{self.release}/rollouts/{version}/rollback",
            json={"reason": ROLLBACK_REASON},
            headers=token("sre"),
        )
        check(answer, "release POST /rollouts/{id}/rollback")
        done = await self._wait(
            f"the rollback of {version}",
            self._rollout(version, lambda v: (v.get("rollback") or {}).get("completed_at")),
        )
        rollback = done["rollback"]
        console.print(
            f"[bold]11.[/bold] rolled back [bold]{rollback['from_version']}[/bold] ->"
            f" {rollback['to_version']} ({rollback['trigger']}): {rollback['reason']}"
        )

    # --- comms -----------------------------------------------------------------------------

    async def documents(self, version: str, last: str) -> list[dict[str, Any]]:
        """The release's documents once comms has drafted the internal status whose id holds
        `last` (`-published`, `-rollback-`): the one about the release's last step."""

        async def drafted() -> list[dict[str, Any]] | None:
            answer = await self.http.get(
                f"{self.comms}/documents",
                params={"release": version},
                headers=token("communications_lead"),
            )
            check(answer, "comms GET /documents")
            found: list[dict[str, Any]] = answer.json()
            status = f"status-{version}{last}"
            return found if any(d["document_id"].startswith(status) for d in found) else None

        found: list[dict[str, Any]] = await self._wait(f"the documents of {version}", drafted)
        console.print(f"[bold]12.[/bold] documents comms drafted for {version}:")
        for document in found:
            console.print(
                f"   {document['document_id']} r{document['revision']}"
                f" ({document['kind']}, {document['audience']}): {document['status']}"
            )
        return found

    async def deliveries(self, documents: list[dict[str, Any]]) -> None:
        """Where the released documents went: waits until each has a delivery and every one is
        settled (delivered or given up); then shows what there is, which is nothing when comms
        has no channel for their kind."""
        released = {d["document_id"] for d in documents if d["status"] == "released"}
        rows: list[dict[str, Any]] = []

        async def settled() -> bool | None:
            answer = await self.http.get(f"{self.comms}/deliveries", headers=token("analyst"))
            check(answer, "comms GET /deliveries")
            rows[:] = [r for r in answer.json() if _document(r) in released]
            each = {_document(r) for r in rows} == released
            return True if each and all(r["status"] in SETTLED for r in rows) else None

        try:
            await wait_for("the deliveries", settled, min(self.timeout, 20.0))
        except StepFailed:
            if not rows:
                console.print(
                    "[bold]13.[/bold] not delivered: comms has no channel for these documents"
                    " (LTS_COMMS_MAIL_LISTS, LTS_COMMS_CHAT_WEBHOOKS, LTS_COMMS_WEBHOOKS)"
                )
                return
        console.print("[bold]13.[/bold] deliveries:")
        for row in rows:
            console.print(
                f"   {row['document']} -> {row['channel']} {row['recipient']}:"
                f" {row['status']} after {row['attempts']} attempt(s)"
            )

    # --- waiting ---------------------------------------------------------------------------

    async def _wait(self, what: str, probe: Any) -> Any:
        return await wait_for(what, probe, self.timeout)

    def _backport(self, ticket_id: int, line: str, ready: Any) -> Any:
        return lambda: self._view(f"/backports/{ticket_id}/{line}", ready)

    def _rollout(self, version: str, ready: Any) -> Any:
        return lambda: self._view(f"/rollouts/{version}", ready)

    async def _view(self, path: str, ready: Any) -> dict[str, Any] | None:
        answer = await self.http.get(f"{self.release}{path}", headers=token("release_manager"))
        if answer.status_code == 404:
            return None
        check(answer, f"release GET {path}")
        view: dict[str, Any] = answer.json()
        return view if ready(view) else None


def _document(delivery: dict[str, Any]) -> str:
    """`status-1.4.3-published r1` -> `status-1.4.3-published`."""
    return str(delivery["document"]).rsplit(" r", 1)[0]


def _any(view: dict[str, Any]) -> bool:
    return True


def _lines(target_branches: list[str]) -> list[str]:
    """`release-lts/v1.4` -> `1.4`, in the plan's order."""
    return [branch.rsplit("/v", 1)[1] for branch in target_branches]


def _check_run(branch: str, commit: str, job: str) -> dict[str, Any]:
    """A completed, successful GitHub `check_run` delivery (the fields the webhook reads)."""
    return {
        "action": "completed",
        "check_run": {
            "id": int(hashlib.sha1(f"{branch}{commit}{job}".encode()).hexdigest()[:8], 16),
            "name": job,
            "head_sha": commit,
            "status": "completed",
            "conclusion": "success",
            "html_url": f"https://github.com/acme/ltsapp/runs/{commit[:7]}-{job}",
            "check_suite": {"head_branch": branch},
        },
        "repository": {"full_name": "acme/ltsapp"},
    }


def wheel(project: str, version: str) -> tuple[str, bytes]:
    """A minimal pure-Python wheel (PEP 427): a module, METADATA, WHEEL and its RECORD."""
    module = project.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
            "Summary: built by lts demo\n"
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lts-demo\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return f"{module}-{version}-py3-none-any.whl", buffer.getvalue()


def sdist(project: str, version: str) -> tuple[str, bytes]:
    """A minimal sdist: `<name>-<version>.tar.gz` with a top-level PKG-INFO."""
    root = f"{project.replace('-', '_')}-{version}"
    members = {
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n",
        f"{root}/{project.replace('-', '_')}/__init__.py": f'VERSION = "{version}"\n',
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return f"{root}.tar.gz", buffer.getvalue()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"
