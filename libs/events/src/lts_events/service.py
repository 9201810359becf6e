"""The host every service runs in: one composition root that connects the store, builds the
Kafka broker, attaches the service's subscriptions, runs the relay and the timer loop, and serves
the service's HTTP routers plus /healthz, /readyz, /metrics and /asyncapi."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from lts_events.auth import Authenticator
from lts_events.clock import Clock, system_clock
from lts_events.consumer import Subscriptions
from lts_events.faults import Outage, describe, is_transient, may_be_transient
from lts_events.idempotency import IdempotencyKeys
from lts_events.kafka import DLQ_TOPIC, ensure_topics, events_topic
from lts_events.leadership import Leadership
from lts_events.logging import setup_logging
from lts_events.problems import install_problem_answers, unavailable
from lts_events.relay import Relay
from lts_events.settings import RuntimeSettings
from lts_events.store.anchoring import ChainAnchors, signing_key
from lts_events.store.port import EventStore, SqlEventStore, Timer
from lts_events.store.postgres import PostgresEventStore
from lts_events.telemetry import instrument_http, instrument_sql, setup_telemetry
from lts_events.timers import TimerLoop

log = logging.getLogger(__name__)


LoopFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ServiceContext:
    """What a service's builders get: its store, the broker, time, auth and settings. The
    store comes by its port (`EventStore`), so a shell built from it runs on the in-memory
    store in unit tests; `database` is for the services that also keep SQL tables."""

    name: str
    store: EventStore
    broker: KafkaBroker
    clock: Clock
    authenticator: Authenticator
    settings: RuntimeSettings
    # The same store as PostgreSQL (`SqlEventStore`: its schema, a SQLAlchemy engine, and
    # transactions shared with appends), for a service that keeps tables of its own next to
    # its events (intake and metrics' audit log choose their tables by it; metrics' figures
    # `needs_database`). None on the in-memory store.
    database: SqlEventStore | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    background: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    leader_work: list[tuple[str, LoopFactory]] = field(default_factory=list, repr=False)

    def needs_database(self) -> SqlEventStore:
        """`database`, for a service that cannot run without its SQL tables."""
        if self.database is None:
            raise RuntimeError(
                f"the {self.name} service keeps SQL tables next to its events: "
                "it runs on the PostgreSQL store only"
            )
        return self.database

    def run_in_background(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run `work` (a service's own loop: an export every replica keeps) while the service
        runs: it is cancelled and awaited when the service stops, before the store closes."""
        self.background.append(asyncio.create_task(work, name=f"{self.name}:{name}"))

    def run_when_leading(self, make: LoopFactory, *, name: str) -> None:
        """Run the loop `make()` returns (a projection: work that must not run in two replicas
        at once) while this replica leads the service (`leadership`); it is cancelled when the
        leadership is lost or the service stops, and made anew at the next term."""
        self.leader_work.append((name, make))


@dataclass(frozen=True)
class ServiceParts:
    """Everything a service adds to the host, built ONCE per start from its context by its
    `ServiceSpec.build` (cosmicpython's bootstrap): its handlers are made there and shared by
    its routes, subscriptions and timers, so no builder makes a second copy and nothing is
    cached at module level."""

    routers: Sequence[APIRouter] = ()
    subscriptions: Subscriptions | None = None
    timer_handler: Callable[[Timer], Awaitable[None]] | None = None
    # Work before the service serves (its own tables, a catch-up), after the topics exist.
    on_start: Callable[[], Awaitable[None]] | None = None
    # Extra reasons the service cannot serve (a dependency of its own down); empty = ready.
    readiness: Callable[[], Awaitable[list[str]]] | None = None
    # Progress facts for /readyz/details (e.g. projections behind the log): shown, never a
    # reason to be unready, since under sustained load a healthy service is always a bit behind.
    progress: Callable[[], Awaitable[dict[str, Any]]] | None = None


def _nothing(context: ServiceContext) -> ServiceParts:
    return ServiceParts()


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    build: Callable[[ServiceContext], ServiceParts] = _nothing
    title: str = ""
    # False for a service whose store only copies others' events (metrics' audit log):
    # relaying it would publish every event of the system a second time.
    publishes: bool = True


@dataclass
class _Runtime:
    """The live parts of a running service, for readiness and shutdown."""

    store: PostgresEventStore | None = None
    broker: KafkaBroker | None = None
    relay: Relay | None = None
    subscriptions: Subscriptions | None = None
    publishes: bool = True
    readiness: Callable[[], Awaitable[list[str]]] | None = None
    progress: Callable[[], Awaitable[dict[str, Any]]] | None = None
    timers: TimerLoop | None = None
    anchors: ChainAnchors | None = None
    leadership: Leadership | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # stop when `stop` is set
    background: list[asyncio.Task[None]] = field(default_factory=list)  # cancelled at stop


def build_broker(name: str, settings: RuntimeSettings, registry: CollectorRegistry) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=setup_telemetry(f"lts-{name}")),
            KafkaPrometheusMiddleware(registry=registry, app_name=f"lts-{name}"),
        ),
        logger=logging.getLogger(f"lts.{name}.faststream"),
        # FastStream's own lines ("Received", "Processed" per message, "waiting for messages"):
        # DEBUG, so at INFO the logger drops them before a record is even made, per message.
        log_level=logging.DEBUG,
        enable_idempotence=True,
        acks="all",
        graceful_timeout=10.0,
        description=f"LTS Flow {name} service",
    )


def build_app(spec: ServiceSpec, settings: RuntimeSettings | None = None) -> FastAPI:
    settings = settings or RuntimeSettings.for_service(spec.name)
    registry = CollectorRegistry()
    runtime = _Runtime(publishes=spec.publishes)
    broker = build_broker(spec.name, settings, registry)
    runtime.broker = broker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await _start(app, spec, settings, runtime, registry)
        try:
            yield
        finally:
            await _stop(runtime)

    # /docs and /redoc with Swagger UI's and ReDoc's assets served by the service itself (the
    # fastapi-offline package bundles them), not from a CDN: they work on an air-gapped machine.
    app = FastAPIOffline(title=spec.title or f"LTS Flow {spec.name}", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.registry = registry
    # Every POST of every service honours Idempotency-Key (a retried command is answered, not
    # carried out twice), kept in the service's own schema.
    app.add_middleware(IdempotencyKeys, store_of=lambda: runtime.store)
    instrument_http(app)
    _add_probes(app, spec, runtime, registry)
    for candidate in may_be_transient():
        app.add_exception_handler(candidate, _unavailable)
    install_problem_answers(app)
    return app


async def _unavailable(request: Request, error: Exception) -> Response:
    """A request that failed because the database or the broker is away is answered 503 with
    Retry-After (webhook senders and clients retry it), not 500 with a traceback. Registered
    for the exception classes that can be transient; any other error of those classes is
    raised on, to the usual 500."""
    if not is_transient(error):
        raise error
    log.warning(
        "request refused while a dependency is unavailable",
        extra={"path": request.url.path, "error": describe(error)},
    )
    return unavailable(describe(error))


async def _start(
    app: FastAPI,
    spec: ServiceSpec,
    settings: RuntimeSettings,
    runtime: _Runtime,
    registry: CollectorRegistry,
) -> None:
    setup_logging(spec.name)
    setup_telemetry(f"lts-{spec.name}")
    broker = runtime.broker
    assert broker is not None
    anchor_key = _anchor_key(settings)  # refused before anything starts
    # A service started while the database or the broker is down waits for it (logged once).
    store = await Outage("start-up: the database", log).wait_out(
        lambda: PostgresEventStore.connect(settings.database_url, schema=spec.name)
    )
    runtime.store = store
    instrument_sql()
    context = ServiceContext(
        name=spec.name,
        store=store,
        database=store,
        broker=broker,
        clock=system_clock,
        authenticator=Authenticator.from_settings(),
        settings=settings,
        registry=registry,
        background=runtime.background,
    )
    topic = events_topic(spec.name)
    parts = spec.build(context)
    subscriptions = parts.subscriptions
    runtime.subscriptions = subscriptions
    consumed = subscriptions.topics if subscriptions else ()
    produced = [topic] if spec.publishes else []
    await Outage("start-up: the Kafka broker", log).wait_out(
        lambda: ensure_topics(
            settings.kafka_bootstrap_servers,
            [*produced, DLQ_TOPIC, *consumed],
            partitions=settings.kafka_partitions,
        ),
    )
    if subscriptions is not None:
        subscriptions.attach(
            broker,
            fetch_min_bytes=settings.kafka_fetch_min_bytes,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            fetch_idle_wait_ms=settings.kafka_fetch_idle_wait_ms,
        )
    for router in parts.routers:
        app.include_router(router)
    if parts.on_start is not None:
        await parts.on_start()
    runtime.readiness = parts.readiness
    runtime.progress = parts.progress
    await broker.start()
    if spec.publishes:
        runtime.relay = _relay(store, spec.name, settings, topic=topic)
        _register_runtime_metrics(registry, spec.name, runtime.relay)
    if anchor_key is not None:
        _start_anchors(runtime, spec.name, settings, anchor_key)
    if parts.timer_handler is not None:
        runtime.timers = TimerLoop(
            store,
            handler=parts.timer_handler,
            clock=system_clock,
            interval=settings.timer_interval,
        )
    _start_leadership(runtime, context, settings, registry)
    settle_gc()
    log.info("service started", extra={"topic": topic, "port": settings.http_port})


# A young collection every 500,000 new container objects (net of those freed) instead of
# CPython's 700: a consumer's batch keeps tens of thousands alive while it is handled, and each
# young collection walked them again (triage bench, 4,400 tickets: ~1,100 young and ~100
# middle collections, 0.22-0.28 s, ~8% of the process's CPU). At 100,000, a 500-message batch
# still crossed it: in the pipeline bench triage made 2-4 young collections a run and metrics
# 3-4, 35-50 ms each, and every one collected nothing (the batch's objects were alive, its
# garbage freed by reference counting); at 500,000 none, at the same peak memory. Only
# reference cycles wait longer: up to this many objects' worth.
_YOUNG_THRESHOLD = 500_000
_CPYTHON_THRESHOLDS = (700, 10, 10)


def settle_gc() -> None:
    """Tune the cyclic garbage collector for serving, once started. Put what start-up made
    (modules, classes, the app, pools: over 100,000 objects) out of its reach: each full
    collection walked all of it again (in the triage bench 7 of ~100 ms during a 3,000-ticket
    burst, 13% of the process's CPU; frozen, ~12 ms each). And collect the young generation
    less often (`_YOUNG_THRESHOLD`). `restore_gc` undoes both."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_THRESHOLD, *_CPYTHON_THRESHOLDS[1:])


def restore_gc() -> None:
    """The collector as CPython starts it, for whatever runs in this process next."""
    gc.unfreeze()
    gc.set_threshold(*_CPYTHON_THRESHOLDS)


def _relay(store: PostgresEventStore, name: str, settings: RuntimeSettings, *, topic: str) -> Relay:
    return Relay(
        store,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=topic,
        source=f"lts-flow/{name}",
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval,
    )


def _start_leadership(
    runtime: _Runtime,
    context: ServiceContext,
    settings: RuntimeSettings,
    registry: CollectorRegistry,
) -> None:
    """The relay, the timer loop, the chain anchors and the service's projections run in one
    replica at a time: the one holding the service's advisory lock (`leadership`)."""
    single_active = {"relay": runtime.relay, "timers": runtime.timers, "anchors": runtime.anchors}
    if not any(single_active.values()) and not context.leader_work:
        return
    leadership = Leadership(
        settings.database_url,
        context.name,
        check_interval=settings.leader_check_interval,
        retry_interval=settings.leader_retry_interval,
    )
    runtime.leadership = leadership
    Gauge(
        "lts_leader",
        "1 while this replica holds the service's leadership (runs its relay, timers and "
        "projections)",
        ["service", "replica"],
        registry=registry,
    ).labels(service=context.name, replica=leadership.replica).set_function(
        lambda: int(leadership.leading)
    )

    async def lead(until: asyncio.Event) -> None:
        loops = [
            asyncio.create_task(loop.run(until), name=name)
            for name, loop in single_active.items()
            if loop is not None
        ]
        cancellable = [
            asyncio.create_task(make(), name=f"{context.name}:{name}")
            for name, make in context.leader_work
        ]
        await until.wait()
        await _cancel_background(cancellable)
        await asyncio.gather(*loops, return_exceptions=True)

    runtime.tasks.append(asyncio.create_task(leadership.run(runtime.stop, lead), name="leadership"))


def _anchor_key(settings: RuntimeSettings) -> bytes | None:
    """The chain-anchor key, None when anchoring is off (`anchor_interval` 0); refused
    outside the local environment when none is configured."""
    if settings.anchor_interval <= 0:
        return None
    configured = settings.anchor_key.get_secret_value() if settings.anchor_key else None
    key = signing_key(configured)
    if key is None:
        raise RuntimeError("LTS_ANCHOR_KEY must be set outside the local environment")
    return key


def _start_anchors(runtime: _Runtime, name: str, settings: RuntimeSettings, key: bytes) -> None:
    """Anchor the store's chain heads periodically (store/anchoring.py): set up here, run by
    the replica that leads (`_start_leadership`)."""
    assert runtime.store is not None
    anchors = ChainAnchors(
        runtime.store,
        service=name,
        key=key,
        every_seconds=settings.anchor_interval,
        every_events=settings.anchor_events,
    )
    runtime.anchors = anchors  # run by the leader (`_start_leadership`)


async def _stop(runtime: _Runtime) -> None:
    """Stop consuming first (handlers finish and commit), cancel the service's background
    loops, then let the relay and the timer loop finish their round, then close the store."""
    if runtime.broker is not None:
        with contextlib.suppress(Exception):
            await runtime.broker.stop()
    await _cancel_background(runtime.background)
    runtime.stop.set()
    if runtime.tasks:
        _, pending = await asyncio.wait(runtime.tasks, timeout=10)
        for task in pending:
            task.cancel()
        await asyncio.gather(*runtime.tasks, return_exceptions=True)
    if runtime.store is not None:
        await runtime.store.close()
    restore_gc()
    log.info("service stopped")


async def _cancel_background(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel the service's own loops and wait for them, 10 s at most (a loop that swallows
    its cancellation must not hang the stop); a loop that had failed is logged."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, _ = await asyncio.wait(tasks, timeout=10)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("background loop %s failed", task.get_name(), exc_info=error)


class _RelayPublished(Collector):
    """`lts_relay_published_events_total`: a counter read from the relay at each scrape (the
    relay knows nothing of Prometheus)."""

    def __init__(self, name: str, relay: Relay) -> None:
        self._name, self._relay = name, relay

    def collect(self) -> Iterator[CounterMetricFamily]:
        published = CounterMetricFamily(
            "lts_relay_published_events",
            "Events the relay published to Kafka since start",
            labels=["service", "topic"],
        )
        published.add_metric([self._name, self._relay.topic], self._relay.published)
        yield published


def _register_runtime_metrics(registry: CollectorRegistry, name: str, relay: Relay) -> None:
    registry.register(_RelayPublished(name, relay))
    caught_up = Gauge(
        "lts_relay_caught_up",
        "1 when the relay has published everything committed to the store",
        ["service", "topic"],
        registry=registry,
    )
    caught_up.labels(service=name, topic=relay.topic).set_function(lambda: int(relay.caught_up))


def _add_probes(
    app: FastAPI, spec: ServiceSpec, runtime: _Runtime, registry: CollectorRegistry
) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": spec.name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        reasons = await _not_ready(runtime)
        if reasons:
            return JSONResponse({"ready": False, "reasons": reasons}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/readyz/details", include_in_schema=False)
    async def readyz_details() -> JSONResponse:
        reasons = await _not_ready(runtime)
        body = {"ready": not reasons, "reasons": reasons, **await _progress(runtime)}
        return JSONResponse(body, status_code=503 if reasons else 200)

    lag = Gauge(
        "lts_consumer_lag",
        "Messages of a consumed partition not yet committed by this service's consumer",
        ["service", "topic", "partition"],
        registry=registry,
    )
    waiting = Gauge(
        "lts_outage",
        "1 while one of the service's loops (consumer, relay, timers) waits out an outage",
        ["service"],
        registry=registry,
    )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        waiting.labels(service=spec.name).set(int(any(_outages(runtime))))
        if runtime.subscriptions is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    for where, behind in (await runtime.subscriptions.lag()).items():
                        topic, _, partition = where.rpartition(":")
                        lag.labels(service=spec.name, topic=topic, partition=partition).set(behind)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi() -> JSONResponse:
        assert runtime.broker is not None
        document = AsyncAPI(
            runtime.broker, title=spec.title or f"LTS Flow {spec.name}", version="0.1.0"
        )
        return JSONResponse(document.to_specification().to_jsonable())


async def _not_ready(runtime: _Runtime) -> list[str]:
    """Why the service cannot serve now: a dependency down, or a loop waiting out an outage.
    Lag is not a reason (see `_progress`)."""
    reasons: list[str] = []
    if runtime.store is None:
        reasons.append("store not connected")
    else:
        try:
            async with asyncio.timeout(2):
                async with runtime.store.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as error:
            reasons.append(f"database unreachable: {describe(error)}")
    if runtime.broker is None or not await _broker_answers(runtime.broker):
        reasons.append("kafka broker unreachable")
    if runtime.publishes and runtime.relay is None:
        reasons.append("relay not started")
    reasons.extend(status for status in _outages(runtime) if status is not None)
    if runtime.readiness is not None:
        try:
            async with asyncio.timeout(2):
                reasons.extend(await runtime.readiness())
        except Exception as error:
            reasons.append(f"readiness check failed: {describe(error)}")
    return reasons


def _outages(runtime: _Runtime) -> list[str | None]:
    statuses: list[str | None] = []
    if runtime.subscriptions is not None:
        statuses.append(runtime.subscriptions.outage.status())
    if runtime.relay is not None:
        statuses.append(runtime.relay.outage.status())
    if runtime.timers is not None:
        statuses.append(runtime.timers.outage.status())
    if runtime.anchors is not None:
        statuses.append(runtime.anchors.outage.status())
    if runtime.leadership is not None:
        statuses.append(runtime.leadership.outage.status())
    return statuses


async def _progress(runtime: _Runtime) -> dict[str, Any]:
    """How far behind the service is: the relay, the consumer's partitions, and what the
    service adds (its projections)."""
    facts: dict[str, Any] = {}
    if runtime.leadership is not None:
        facts["leader"] = {
            "leading": runtime.leadership.leading,
            "replica": runtime.leadership.replica,
            "leader": runtime.leadership.leader,
            "terms": runtime.leadership.terms,
        }
    relay = runtime.relay
    if relay is not None:
        facts["relay"] = {
            "topic": relay.topic,
            "caught_up": relay.caught_up,
            "published": relay.published,
            "last_error": relay.last_error,
        }
    try:
        async with asyncio.timeout(2):
            if runtime.subscriptions is not None:
                facts["consumer_lag"] = await runtime.subscriptions.lag()
            if runtime.progress is not None:
                facts.update(await runtime.progress())
    except Exception as error:
        facts["progress_error"] = describe(error)
    return facts


async def _broker_answers(broker: KafkaBroker) -> bool:
    try:
        return await broker.ping(timeout=2.0)
    except Exception:
        return False


def serve(spec: ServiceSpec) -> None:
    """Run the service over HTTP on `LTS_<NAME>_HTTP_HOST` / `LTS_<NAME>_HTTP_PORT`."""
    settings = RuntimeSettings.for_service(spec.name)
    setup_logging(spec.name)
    app = build_app(spec, settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None)
