"""Rollouts on real Kafka and PostgreSQL: phases advance on durable timers when the analysis
(a Prometheus HTTP API) passes; a critical health alert on `lts.inbound.health` rolls back to
the safe version; Flagger's gates and Argo's web metric answer as the state says; a rollback
that cannot complete in time becomes overdue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lts_events.actors import Actor, Role
from lts_events.clock import system_clock
from lts_events.consumer import PERMANENT
from lts_events.contracts.release.candidates import Bump, CandidateOpened, candidate_stream
from lts_events.contracts.release.publication import ReleasePublished
from lts_events.contracts.release.rollout import (
    AnalysisRecorded,
    ReadingSource,
    RollbackAttemptFailed,
    RollbackOverdue,
    RolledBack,
    RolloutCompleted,
    RolloutPhaseStarted,
    RolloutRequestRefused,
    rollout_stream,
)
from lts_events.contracts.triage import RefusalKind, RolloutStrategy
from lts_events.dlq import messages
from lts_events.event import Event
from lts_events.kafka import DLQ_TOPIC
from lts_events.store.port import NO_STREAM
from lts_events.store.postgres import PostgresEventStore
from lts_events.timers import TimerLoop
from lts_release.appending import Outcome, append
from lts_release.rollout.handlers import RolloutHandlers
from lts_release.rollout.machine import RecordReading, StartRollout
from lts_release.rollout.policy import RolloutPolicy
from lts_release.rollout.readings import alert_reading, health_alerts
from lts_release.rollout.wiring import route_rollout_timers
from lts_release.timers import TimerRoutes

from .conftest import Running, eventually
from .prometheus_fake import FakePrometheus, fake_prometheus

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHORT_PHASES = [
    {"weight": 1, "duration_seconds": 2, "thresholds": {"error_rate": 0.001}},
    {"weight": 10, "duration_seconds": 2, "thresholds": {"error_rate": 0.0005}},
    {"weight": 100, "duration_seconds": 0},
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def a_version() -> str:
    return f"1.4.{uuid.uuid4().int % 10**8}"


async def events_of(store: PostgresEventStore, stream: str) -> list[Event]:
    history = await store.read_stream(stream)
    return [recorded.event for recorded in history.events]


def critical_alert(version: str) -> dict[str, Any]:
    text = (FIXTURES / "alertmanager_rollout_critical.json").read_text()
    data: dict[str, Any] = json.loads(text.replace("VERSION", version))
    return data


async def send(kafka: str, topic: str, cloudevent: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            json.dumps(cloudevent).encode(),
            key=cloudevent["id"].encode(),
            headers=[("content-type", b"application/cloudevents+json")],
        )
    finally:
        await producer.stop()


async def first_dead_letter_from(kafka: str, topic: str) -> dict[str, str]:
    """The headers of the first DLQ record that came from `topic`."""
    consumer = AIOKafkaConsumer(
        DLQ_TOPIC, bootstrap_servers=kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for record in records:
                        headers = {k: v.decode() for k, v in record.headers}
                        if headers.get(messages.SOURCE_TOPIC) == topic:
                            return headers
    finally:
        await consumer.stop()


@pytest.fixture
def health_topic(unique: str, monkeypatch: pytest.MonkeyPatch) -> str:
    topic = f"lts.inbound.health_{unique}"
    monkeypatch.setenv("LTS_RELEASE_ROLLOUT_HEALTH_TOPIC", topic)
    return topic


@pytest.fixture
def prometheus(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePrometheus]:
    with fake_prometheus() as fake:
        monkeypatch.setenv("LTS_RELEASE_ROLLOUT_PROMETHEUS_URL", fake.url)
        monkeypatch.setenv("LTS_RELEASE_ROLLOUT_ANALYSIS_INTERVAL_SECONDS", "1")
        yield fake


@pytest.fixture
def short_canary(monkeypatch: pytest.MonkeyPatch, health_topic: str) -> None:
    monkeypatch.setenv("LTS_RELEASE_ROLLOUT_PHASES", json.dumps(SHORT_PHASES))


@pytest.fixture
async def canary_service(
    prometheus: FakePrometheus, short_canary: None, release_service: Running
) -> Running:
    return release_service


@pytest.fixture
async def watched_service(health_topic: str, release_service: Running) -> Running:
    """Seed phases (a day at 1%): only a health alert moves the rollout."""
    return release_service


async def start(client: Any, version: str, **extra: object) -> dict[str, Any]:
    body = {"version": version, "line": "1.4", "previous_safe_version": "1.4.7", **extra}
    response = await client.post("/rollouts", json=body, headers=bearer("dev-release_manager"))
    assert response.status_code == 201, response.text
    view: dict[str, Any] = response.json()
    return view


async def test_a_canary_advances_its_phases_on_passing_prometheus_analysis(
    canary_service: Running, prometheus: FakePrometheus
) -> None:
    prometheus.values["http_requests_total"] = 0.0001  # error rate 0.01%: under both bounds
    version = a_version()

    await start(canary_service.client, version)

    async def completed() -> list[Event] | None:
        events = await events_of(canary_service.store, rollout_stream(version))
        return events if any(isinstance(e, RolloutCompleted) for e in events) else None

    events = await eventually(completed, within=90)
    weights = [e.weight for e in events if isinstance(e, RolloutPhaseStarted)]
    readings = [e for e in events if isinstance(e, AnalysisRecorded)]
    assert weights == [1, 10, 100]
    assert {(r.source, r.outcome.value, r.value) for r in readings} == {
        (ReadingSource.PROMETHEUS, "passed", 0.0001)
    }
    assert any(f'version="{version}"' in q for q in prometheus.queries)


async def test_a_failing_prometheus_check_keeps_the_canary_at_its_first_weight(
    canary_service: Running, prometheus: FakePrometheus
) -> None:
    prometheus.values["http_requests_total"] = 0.05  # 5% errors: fails every phase
    version = a_version()

    await start(canary_service.client, version)

    async def rolled_back() -> list[Event] | None:
        events = await events_of(canary_service.store, rollout_stream(version))
        return events if any(isinstance(e, RolledBack) for e in events) else None

    events = await eventually(rolled_back, within=90)
    assert [e.weight for e in events if isinstance(e, RolloutPhaseStarted)] == [1]
    failures = [e.consecutive_failures for e in events if isinstance(e, AnalysisRecorded)]
    assert failures == [1, 2]  # the first failed reading alone did not roll back


async def test_a_critical_health_alert_rolls_back_to_the_safe_version_and_flagger_is_told(
    watched_service: Running, health_topic: str, kafka: str
) -> None:
    client = watched_service.client
    version = a_version()
    await start(client, version, service="acme-api")
    flagger = {
        "name": "acme-api",
        "namespace": "prod",
        "phase": "Progressing",
        "checksum": "6d8f7c",
        "metadata": {"version": version},
    }
    before = await client.post("/rollouts/flagger/webhooks/confirm-rollout", json=flagger)
    no_rollback = await client.post("/rollouts/flagger/webhooks/rollback", json=flagger)

    cloudevent = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "//alertmanager.monitoring",
        "type": "org.prometheus.alertmanager.notification",
        "datacontenttype": "application/json",
        "data": critical_alert(version),
    }
    await send(kafka, health_topic, cloudevent)

    async def rolled_back() -> dict[str, Any] | None:
        view = (await client.get(f"/rollouts/{version}", headers=bearer("dev-sre"))).json()
        rollback = view.get("rollback") or {}
        return view if rollback.get("completed_at") else None

    view = await eventually(rolled_back, within=60)
    assert view["status"] == "rolled_back"
    assert (view["rollback"]["from_version"], view["rollback"]["to_version"]) == (version, "1.4.7")
    assert view["rollback"]["trigger"] == "automatic"
    assert "HighErrorRate" in view["rollback"]["reason"]
    assert (before.status_code, no_rollback.status_code) == (200, 412)
    rollback_hook = await client.post("/rollouts/flagger/webhooks/rollback", json=flagger)
    promotion = await client.post("/rollouts/flagger/webhooks/confirm-promotion", json=flagger)
    assert (rollback_hook.status_code, promotion.status_code) == (200, 412)
    pre_rollout = await client.post("/rollouts/flagger/webhooks/pre-rollout", json=flagger)
    post_rollout = await client.post("/rollouts/flagger/webhooks/post-rollout", json=flagger)
    assert (pre_rollout.status_code, post_rollout.status_code) == (412, 200)
    metric = await client.get(f"/rollouts/{version}/analysis", headers=bearer("dev-sre"))
    assert metric.json()["success"] is False


async def test_manual_rollback_is_refused_to_qa_and_done_for_sre(watched_service: Running) -> None:
    client = watched_service.client
    version = a_version()
    await start(client, version)

    refused = await client.post(
        f"/rollouts/{version}/rollback", json={"reason": "odd"}, headers=bearer("dev-qa")
    )
    accepted = await client.post(
        f"/rollouts/{version}/rollback",
        json={"reason": "customers report timeouts"},
        headers=bearer("dev-sre"),
    )

    assert refused.status_code == 403
    assert accepted.status_code == 202
    assert accepted.json()["rollback"]["trigger"] == "manual"


async def test_a_rollback_naming_a_stale_version_is_412_and_one_naming_the_current_is_done(
    watched_service: Running,
) -> None:
    client, sre = watched_service.client, bearer("dev-sre")
    version = a_version()
    await start(client, version)
    read = await client.get(f"/rollouts/{version}", headers=sre)
    tag = read.headers["ETag"]

    unchanged = await client.get(f"/rollouts/{version}", headers={**sre, "If-None-Match": tag})
    stale = await client.post(
        f"/rollouts/{version}/rollback",
        json={"reason": "customers report timeouts"},
        headers={**sre, "If-Match": '"0"'},
    )
    current = await client.post(
        f"/rollouts/{version}/rollback",
        json={"reason": "customers report timeouts"},
        headers={**sre, "If-Match": tag},
    )

    assert (unchanged.status_code, unchanged.headers["ETag"]) == (304, tag)
    assert (stale.status_code, stale.headers["ETag"]) == (412, tag)
    assert stale.headers["content-type"] == "application/problem+json"
    assert current.status_code == 202
    assert current.headers["ETag"] != tag
    refused = [
        e
        for e in await events_of(watched_service.store, rollout_stream(version))
        if isinstance(e, RolloutRequestRefused)
    ]
    assert [(e.action, e.refusal) for e in refused] == [
        ("rollback", RefusalKind.PRECONDITION_FAILED)
    ]


async def test_a_malformed_health_event_goes_to_the_dlq_naming_the_field(
    watched_service: Running, health_topic: str, kafka: str
) -> None:
    bad = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "//alertmanager.monitoring",
        "type": "org.prometheus.alertmanager.notification",
        "data": {"status": "firing", "alerts": [{"labels": ["not", "a", "map"]}]},
    }

    await send(kafka, health_topic, bad)

    headers = await first_dead_letter_from(kafka, health_topic)
    assert headers[messages.REASON] == PERMANENT
    assert "data.alerts[0].labels" in headers[messages.ERROR]


async def test_a_flagger_call_without_a_version_is_refused_naming_the_field(
    watched_service: Running,
) -> None:
    response = await watched_service.client.post(
        "/rollouts/flagger/webhooks/confirm-rollout",
        json={"name": "acme-api", "namespace": "prod", "phase": "Progressing", "metadata": {}},
    )

    assert response.status_code == 422
    assert "metadata.version" in response.text


async def test_a_flagger_event_hook_is_acknowledged_though_it_names_no_version(
    watched_service: Running,
) -> None:
    # Flagger's documented event payload (fluxcd/flagger docs/gitbook/usage/monitoring.md,
    # "Event Webhook"): the metadata is the event, not the hook's map; Flagger sends every
    # event of the canary to a hook of type `event` (or to its global eventWebhook)
    event = {
        "name": "podinfo",
        "namespace": "default",
        "phase": "Progressing",
        "metadata": {
            "eventMessage": "New revision detected! Scaling up podinfo.default",
            "eventType": "Normal",
            "timestamp": "1578607635167",
        },
    }

    response = await watched_service.client.post("/rollouts/flagger/webhooks/event", json=event)

    assert response.status_code == 200, response.text
    assert response.json()["go"] is True


@pytest.mark.parametrize("version", ["1.4.8\u0000", "v" * 300, "1.4.8 rc1"])
async def test_a_flagger_version_no_rollout_can_have_is_refused_naming_the_field(
    watched_service: Running, version: str
) -> None:
    # metadata is the Canary's own map, templated by whoever writes it: not trusted to be
    # a version (a NUL reached PostgreSQL as a stream name)
    response = await watched_service.client.post(
        "/rollouts/flagger/webhooks/confirm-rollout",
        json={
            "name": "acme-api",
            "namespace": "prod",
            "phase": "Progressing",
            "checksum": "6d8f7c",
            "metadata": {"version": version},
        },
    )

    assert response.status_code == 422
    assert "metadata.version" in response.text


async def test_a_published_release_starts_its_rollout_from_the_own_topic(
    watched_service: Running, unique: str
) -> None:
    version = a_version()
    candidate_id = f"{version}rc1"
    now = datetime.now(UTC)
    opened = CandidateOpened(
        candidate_id=candidate_id,
        line="1.4",
        version=version,
        rc=1,
        tag=f"v{candidate_id}",
        final_tag=f"v{version}",
        previous_version="1.4.7",
        bump=Bump.PATCH,
        backports=(),
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=False,
        opened_by="rm",
        opened_at=now,
    )
    published = ReleasePublished(
        candidate_id=candidate_id,
        version=version,
        line="1.4",
        tag=f"v{version}",
        channels=("pypi",),
        artifacts=(),
        ticket_ids=(123,),
        previous_safe_version="1.4.7",
        published_by="rm",
        published_at=now,
    )
    manager = Actor(id="rm", role=Role.RELEASE_MANAGER)

    await append(
        watched_service.store,
        candidate_stream(candidate_id),
        [Outcome(opened, manager), Outcome(published, manager)],
        version=NO_STREAM,
    )

    async def started() -> dict[str, Any] | None:
        response = await watched_service.client.get(
            f"/rollouts/{version}", headers=bearer("dev-sre")
        )
        return response.json() if response.status_code == 200 else None

    view = await eventually(started, within=60)
    assert (view["status"], view["weight"], view["previous_safe_version"]) == (
        "progressing",
        1,
        "1.4.7",
    )
    assert view["strategy"] == "staged_canary"
    history = await watched_service.store.read_stream(rollout_stream(version))
    assert history.events[0].event.ticket_ids == (123,)  # type: ignore[attr-defined]


# -- the rollback deadline, on the real store and timer loop ------------------------------


class UnreachableIndex:
    """A channel whose index does not answer until `reachable` is set."""

    def __init__(self) -> None:
        self.reachable = False

    async def roll_back(
        self,
        *,
        candidate_id: str | None,
        line: str,
        from_version: str,
        to_version: str,
        reason: str,
    ) -> Sequence[str]:
        if not self.reachable:
            raise ConnectionRefusedError("index at 127.0.0.1:9 refused the connection")
        return ("pypi",)


@pytest.fixture
async def rollout_store(
    database_url: str, unique: str, drop_schemas: list[str]
) -> AsyncIterator[PostgresEventStore]:
    name = f"release_rollout_{unique}"
    drop_schemas.append(name)
    store = await PostgresEventStore.connect(database_url, schema=name)
    try:
        yield store
    finally:
        await store.close()


async def test_a_rollback_that_overruns_its_limit_becomes_overdue(
    rollout_store: PostgresEventStore,
) -> None:
    index = UnreachableIndex()
    policy = RolloutPolicy(rollback_limit_seconds=2, rollback_retry_seconds=1)
    handlers = RolloutHandlers(rollout_store, policy=policy, clock=system_clock, channels=index)
    routes = TimerRoutes(rollout_store)
    route_rollout_timers(routes, handlers)
    loop = TimerLoop(rollout_store, handler=routes, clock=system_clock, interval=0.1)
    stop = asyncio.Event()
    ticking = asyncio.create_task(loop.run(stop))
    version = a_version()
    stream = rollout_stream(version)
    try:
        start_ = StartRollout(version, version, "1.4", "1.4.7", RolloutStrategy.STAGED_CANARY)
        await handlers.execute(version, [start_])
        alert = health_alerts(critical_alert(version))[0]
        now = datetime.now(UTC)
        reading = alert_reading(alert, critical_severities=policy.critical_severities, now=now)
        await handlers.execute(version, [RecordReading(reading)])

        async def overdue() -> list[Event] | None:
            events = await events_of(rollout_store, stream)
            return events if any(isinstance(e, RollbackOverdue) for e in events) else None

        events = await eventually(overdue, within=60)
        index.reachable = True

        async def rolled_back() -> RolledBack | None:
            found = [e for e in await events_of(rollout_store, stream) if isinstance(e, RolledBack)]
            return found[0] if found else None

        done = await eventually(rolled_back, within=60)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await ticking
    overdue_event = next(e for e in events if isinstance(e, RollbackOverdue))
    assert any(isinstance(e, RollbackAttemptFailed) for e in events)
    assert overdue_event.last_error is not None
    assert "refused" in overdue_event.last_error
    assert done.completed_at > overdue_event.deadline
    assert (done.to_version, done.withdrawn_from) == ("1.4.7", ("pypi",))
