"""Enrichment that needs the world outside the payload: releases read from the release topic
(possible regressions) and a configured git repository (tag commit, recent commits)."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from lts_events.contracts.intake import TicketEnriched
from sqlalchemy import text

from .conftest import ALERT_TOKEN, Running, bearer, consume_until, eventually, types

pytestmark = pytest.mark.integration


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "shop"
    (repo / "src" / "shop").mkdir(parents=True)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            check=True,
            capture_output=True,
            text=True,
            env={
                "GIT_AUTHOR_NAME": "Ada",
                "GIT_AUTHOR_EMAIL": "ada@example.org",
                "GIT_COMMITTER_NAME": "Ada",
                "GIT_COMMITTER_EMAIL": "ada@example.org",
                "PATH": "/usr/bin:/bin",
            },
        ).stdout

    git("init", "-q", "-b", "main")
    (repo / "src" / "shop" / "export.py").write_text("def run():\n    return 1\n")
    git("add", ".")
    git("commit", "-q", "-m", "Export orders")
    git("tag", "v1.4.2")
    (repo / "src" / "shop" / "export.py").write_text("def run():\n    return dump(orders)\n")
    git("commit", "-q", "-am", "Export: dump every order")
    monkeypatch.setenv("LTS_INTAKE_GIT_REPO_PATH", str(repo))
    return repo


async def test_a_report_gets_the_tag_commit_and_recent_commits_of_its_traceback_files(
    git_repo: Path, service: Running, kafka: str
) -> None:
    report = {
        "title": "Export fails with KeyError",
        "description": "Every export fails.",
        "affected_versions": ["1.4.2"],
        "traceback": (
            "Traceback (most recent call last):\n"
            '  File "/srv/app/src/shop/export.py", line 2, in run\n'
            "    return dump(orders)\n"
            "KeyError: 'sku'\n"
        ),
    }

    response = await service.client.post("/reports", json=report, headers=bearer("dev-requester"))

    assert response.status_code == 201, response.text
    seen = await consume_until(
        kafka, service.events_topic, lambda s: TicketEnriched.type in types(s)
    )
    git = seen[-1].data["git"]
    assert git["version_tag"] == "v1.4.2"
    assert len(git["tag_commit"]) == 40
    assert [c["summary"] for c in git["recent_commits"]] == [
        "Export: dump every order",
        "Export orders",
    ]
    assert git["recent_commits"][0]["files"] == ["src/shop/export.py"]


async def test_an_alert_starting_soon_after_a_published_release_is_a_possible_regression(
    service: Running, kafka: str
) -> None:
    released_at = datetime.now(UTC) - timedelta(hours=1)
    release_topic = service.inbound_topic.replace("lts.inbound.alerts_", "lts.release_") + ".events"
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            release_topic,
            json.dumps(
                {
                    "version": "1.4.3",
                    "published_at": released_at.isoformat(),
                    "lts_line": "release-lts/v1.4",
                }
            ).encode(),
            key=b"release-1.4.3",
            headers=[
                ("ce_specversion", b"1.0"),
                ("ce_id", str(uuid.uuid4()).encode()),
                ("ce_source", b"lts-flow/release"),
                ("ce_type", b"lts.release.release_published"),
                ("ce_subject", b"release-1.4.3"),
                ("content-type", b"application/json"),
            ],
        )
    finally:
        await producer.stop()

    async def release_recorded() -> bool:
        async with service.store.engine.connect() as connection:
            rows = await connection.execute(text(f'SELECT count(*) FROM "{service.name}".releases'))
            return bool(rows.scalar_one())

    await eventually(release_recorded)
    alert = {
        "version": "4",
        "groupKey": "{}:{}",
        "status": "firing",
        "receiver": "lts",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {"summary": "5xx above 5%"},
                "fingerprint": "regression-check",
                "startsAt": datetime.now(UTC).isoformat(),
            }
        ],
    }

    response = await service.client.post(
        "/webhooks/alertmanager", json=alert, headers=bearer(ALERT_TOKEN)
    )

    assert response.json()["results"][0]["events"] == [
        "lts.intake.ticket_opened",
        "lts.intake.ticket_enriched",
    ]
    seen = await consume_until(
        kafka, service.events_topic, lambda s: TicketEnriched.type in types(s)
    )
    assert "regression" in seen[0].data["labels"]
    assert seen[1].data["possible_regressions"][0]["version"] == "1.4.3"
    assert seen[1].data["possible_regressions"][0]["release_id"] == "release-1.4.3"
