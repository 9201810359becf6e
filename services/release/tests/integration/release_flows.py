"""Steps of the release flow the integration tests share: CI results recorded as the CI part
records them, a backport's view polled until it says what the test waits for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lts_events.actors import Actor, Role
from lts_events.contracts.release.ci import (
    CiEvidence,
    CiResultRecorded,
    CiSource,
    CiStatus,
    Gate,
    TestCounts,
    ci_stream,
)
from lts_events.envelope import Metadata, NewEvent
from lts_events.store.port import ANY

from .conftest import Running, eventually

SECURITY_GATES = ("lint", "unit", "integration", "regression", "security_scan", "dependency_scan")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def record_ci(service: Running, branch: str, commit: str, gates: tuple[str, ...]) -> None:
    """Record CI results as the CI part does: `CiResultRecorded` on the branch's stream."""
    now = datetime.now(UTC)
    for gate in gates:
        event = CiResultRecorded(
            source=CiSource.GITHUB,
            delivery_id=f"{branch}-{commit}-{gate}",
            branch=branch,
            commit=commit,
            job=f"ci / {gate}",
            gate=Gate(gate),
            status=CiStatus.PASSED,
            raw_status="completed/success",
            evidence=CiEvidence(
                run_url=f"https://github.com/acme/ltsapp/actions/runs/{abs(hash(gate)) % 10**9}",
                tests=TestCounts(tests=12, passed=12, failed=0, skipped=0, errors=0),
            ),
            reported_at=now,
            recorded_at=now,
        )
        metadata = Metadata.trusted(actor=Actor(id="github-actions", role=Role.AUTOMATION))
        await service.store.append(
            ci_stream(branch), [NewEvent.of(event, metadata)], expected_version=ANY
        )


async def backport(service: Running, ticket_id: int, line: str, *, until: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        answer = await service.client.get(
            f"/backports/{ticket_id}/{line}", headers=bearer("dev-release_manager")
        )
        if answer.status_code != 200:
            return None
        view: dict[str, Any] = answer.json()
        return view if until(view) else None

    return await eventually(probe)


async def ready_backports(service: Running, ticket_id: int, heads: dict[str, str]) -> None:
    """CI green on each line's patch branch head, QA and security sign-offs: ready."""
    for line, head in heads.items():
        await record_ci(service, f"lts/v{line}/issue-{ticket_id}", head, SECURITY_GATES)
    for line, head in heads.items():
        await backport(service, ticket_id, line, until=lambda v, h=head: v["head_commit"] == h)
        for kind, token in (("qa", "dev-qa"), ("security", "dev-security_reviewer")):
            answer = await service.client.post(
                f"/backports/{ticket_id}/{line}/sign-offs",
                json={"kind": kind, "commit": head},
                headers=bearer(token),
            )
            assert answer.status_code == 201, answer.text
        await backport(service, ticket_id, line, until=lambda v: v["status"] == "ready")
