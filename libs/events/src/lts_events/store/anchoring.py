"""Chain anchors, written and checked (what they mean: `store/anchors.py`).

Written by the service host (`ChainAnchors.run`): every `every_seconds` when events were
appended since the last anchor, or as soon as `every_events` were. Checked by `lts store
verify` (`check_anchors`): the store's latest anchor, and the latest copy of one held by a
witness store (the metrics audit log, which copies every relayed event): a store restored from
an older backup lacks that copy's anchor and its events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from lts_events.actors import automation
from lts_events.contracts.anchors import ChainAnchored
from lts_events.envelope import Metadata, NewEvent
from lts_events.faults import Outage, is_transient
from lts_events.infra.paths import lts_home
from lts_events.settings import common_settings
from lts_events.store import inspect
from lts_events.store.anchors import (
    ANCHOR_STREAM,
    anchor,
    anchor_due,
    events_before_anchor,
    mismatch,
    point_of,
    signature_problem,
)
from lts_events.store.port import ANY, Checkpoint
from lts_events.store.postgres import PostgresEventStore

log = logging.getLogger(__name__)

KEY_ENV = "LTS_ANCHOR_KEY"
CHECK_EVERY_S = 5.0  # how often the writer looks for new events (a bounded count)
LOCAL_KEY_FILE = "anchor.key"


def signing_key(
    configured: str | None = None, *, environ: Mapping[str, str] | None = None
) -> bytes | None:
    """The configured key (`LTS_ANCHOR_KEY`); in the local environment without one, a
    development key generated once in `$LTS_HOME/anchor.key` (shared by the local stack and
    `lts store verify`); None outside the local environment without a key."""
    env = os.environ if environ is None else environ
    configured = configured or env.get(KEY_ENV)
    if configured:
        return configured.encode()
    if common_settings(environ).environment != "local":
        return None
    path = lts_home() / LOCAL_KEY_FILE
    if not path.exists():
        _create_once(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


def _create_once(path: Path, content: str) -> None:
    """Write `path` whole or not at all: services starting together race to create it, and
    none may read it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.write_text(content)
    draft.chmod(0o600)
    try:
        os.link(draft, path)  # fails when another process created it first
    except FileExistsError:
        pass
    finally:
        draft.unlink()


@contextlib.asynccontextmanager
async def connection_of(store: PostgresEventStore) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection of the store's engine, for `inspect`'s read-only queries."""
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        yield raw.driver_connection


class ChainAnchors:
    """Appends the store's anchors to its stream `chain-anchors`, as the service's automation."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        service: str,
        key: bytes,
        every_seconds: float,
        every_events: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._service = service
        self._key = key
        self._every_seconds = every_seconds
        self._every_events = max(1, every_events)
        self._clock = clock
        self._last: Checkpoint | None = None  # the point of the latest anchor, once read
        self._anchored_events = 0  # how many events the latest anchor pinned
        self._last_at = clock()  # the first one waits a period, unless enough events came
        self.anchored = 0
        self.outage = Outage("chain anchors: the database", log)

    async def step(self, *, force: bool = False) -> ChainAnchored | None:
        """Anchor now if due (or `force`d and anything is new); the anchor, or None."""
        async with connection_of(self._store) as conn:
            schema = self._store.schema
            if self._last is None:
                self._last, self._anchored_events = await _latest(conn, schema)
            threshold = events_before_anchor(self._every_events, self._anchored_events)
            new = await inspect.settled_since(
                conn, schema, self._last, excluding_stream=ANCHOR_STREAM, limit=threshold
            )
            elapsed = self._clock() - self._last_at
            if not anchor_due(
                new, elapsed, threshold=1 if force else threshold, every_seconds=self._every_seconds
            ):
                return None
            point = await inspect.settled_end(conn, schema)
            assert point is not None  # there are settled events
            heads = await inspect.heads(conn, schema, point)
        anchored = anchor(schema, heads, point, key=self._key)
        metadata = Metadata(actor=automation(self._service), reason="periodic chain anchor")
        await self._store.append(
            ANCHOR_STREAM, [NewEvent.of(anchored, metadata)], expected_version=ANY
        )
        self._last, self._last_at = point, self._clock()
        self._anchored_events = anchored.events
        self.anchored += 1
        return anchored

    async def run(self, stop: asyncio.Event) -> None:
        """Look every few seconds until `stop`; outages are waited out (logged once)."""
        while not stop.is_set():
            pause = min(CHECK_EVERY_S, self._every_seconds)
            try:
                await self.step()
                self.outage.recovered()
            except Exception as error:
                if not is_transient(error):
                    log.exception("chain anchor failed; retrying")
                else:
                    pause = max(pause, self.outage.failed(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)


async def _latest(conn: asyncpg.Connection, schema: str) -> tuple[Checkpoint, int]:
    """The point of the store's latest anchor and how many events it pinned."""
    latest = await inspect.last_of_stream(conn, schema, ANCHOR_STREAM)
    if latest is None:
        return Checkpoint.start(), 0
    anchored = ChainAnchored.model_validate_json(latest["data"])
    return point_of(anchored), anchored.events


@dataclass
class AnchorCheck:
    """One anchor checked against the store: where it was found, and what is wrong."""

    source: str
    event_id: str
    anchored: ChainAnchored
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        a = self.anchored
        what = (
            f"anchor {self.event_id} ({self.source}): {a.events} events in {a.streams} streams "
            f"up to position {a.last_position}"
        )
        return what + (": " + "; ".join(self.problems) if self.problems else ": holds")


async def check_anchors(
    conn: asyncpg.Connection, schema: str, *, key: bytes | None, witness: str | None
) -> list[AnchorCheck]:
    """The store's latest anchor, and the latest copy of one of its anchors in `witness` when
    that is a different one, each checked against the store."""
    found: list[tuple[str, str, ChainAnchored]] = []
    own = await inspect.last_of_stream(conn, schema, ANCHOR_STREAM)
    if own is not None:
        found.append(("the store's latest", own["event_id"], _decoded(own)))
    if witness and witness != schema and await inspect.has_store(conn, witness):
        copies = await inspect.of_type(
            conn, witness, ChainAnchored.type, field="store", value=schema
        )
        if copies:
            latest = max(copies, key=lambda c: point_of(_decoded(c)))
            if own is None or latest["event_id"] != own["event_id"]:
                found.append((f"latest copy in {witness}", latest["event_id"], _decoded(latest)))
    checks = []
    for source, event_id, anchored in found:
        check = AnchorCheck(source, event_id, anchored)
        if key is not None and (problem := signature_problem(anchored, key)):
            check.problems.append(problem)
        if not await inspect.present(conn, schema, [event_id]):
            check.problems.append(
                "the store does not hold this anchor: restored from an older backup, or its "
                "anchor stream was cut"
            )
        heads = await inspect.heads(conn, schema, point_of(anchored))
        if problem := mismatch(anchored, heads):
            check.problems.append(problem)
        checks.append(check)
    return checks


def _decoded(row: Mapping[str, str]) -> ChainAnchored:
    return ChainAnchored.model_validate_json(row["data"])


@dataclass
class AnchorsVerified:
    checks: list[AnchorCheck]
    signatures_checked: bool

    @property
    def ok(self) -> bool:
        return not any(check.problems for check in self.checks)

    def lines(self) -> list[str]:
        found = [str(check) for check in self.checks] or [
            "no chain anchor yet: a lost tail or an older backup cannot be seen"
        ]
        if self.checks and not self.signatures_checked:
            found.append(f"anchor signatures not checked: no {KEY_ENV}")
        return found


async def verify_anchors(database_url: str, schema: str, *, witness: str | None) -> AnchorsVerified:
    """`check_anchors` on its own connection, with the key of this environment."""
    key = signing_key()
    conn = await asyncpg.connect(database_url)
    try:
        checks = await check_anchors(conn, schema, key=key, witness=witness)
    finally:
        await conn.close()
    return AnchorsVerified(checks, signatures_checked=key is not None)
