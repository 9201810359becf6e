"""The hash chain is verifiable outside Python: a real store, exported by `lts store export`, is
recomputed by tests/hash_chain/verify.mjs, which uses none of the project's code (Node's
JSON.parse and SHA-256, the `canonicalize` package's RFC 8785), and agrees with `lts store
verify` on an untouched store and on one whose event was rewritten and re-hashed."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from lts_devtools.infra import Infrastructure
from lts_events.actors import Actor, Role
from lts_events.envelope import Metadata, NewEvent
from lts_events.event import Event
from lts_events.hashing import event_hash
from lts_events.store.port import NO_STREAM
from lts_events.store.postgres import PostgresEventStore
from sqlalchemy import text

pytestmark = pytest.mark.integration

VERIFIER = Path(__file__).parent / "hash_chain"
LTS = Path(sys.executable).parent / "lts"


class PayloadReceived(Event):
    """Floats anywhere (the general canonical path)."""

    type: ClassVar[str] = "lts.test.outside.payload_received"
    raw: dict[str, Any]


class ScoreSet(Event):
    """Floats under a top-level key (the model's path)."""

    type: ClassVar[str] = "lts.test.outside.score_set"
    score: float
    label: str


class Renamed(Event):
    """No float at all (orjson's path)."""

    type: ClassVar[str] = "lts.test.outside.renamed"
    names: dict[str, str]


@pytest.fixture(scope="module")
def node_verifier() -> list[str]:
    """`node verify.mjs`, its package installed from the lock file if it is not yet."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node, "Node.js is needed (make tools installs it)"
    assert npm, "npm is needed (make tools installs it)"
    if not (VERIFIER / "node_modules" / "canonicalize").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=VERIFIER, check=True)
    return [node, str(VERIFIER / "verify.mjs")]


@pytest.fixture
async def store(infra: Infrastructure) -> AsyncIterator[PostgresEventStore]:
    opened = await PostgresEventStore.connect(
        infra.database_url, schema=f"outside_{uuid.uuid4().hex[:10]}"
    )
    yield opened
    async with opened.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{opened.schema}" CASCADE'))
    await opened.close()


# Characters where canonical forms part ways: beyond U+FFFF against U+E000-U+FFFF (UTF-16 key
# order), controls, quotes, backslashes, U+2028, non-ASCII letters. No NUL: jsonb refuses it.
TRICKY = ["\U0001f600", "\U00010000", "\ue000", "\uffff", "\x01", "\x1f", "\x7f", '"', "\\"]
TRICKY += ["\u2028", "é", "ß", "a", "Z", "0", " ", "/", "\n", "\t"]


def a_string(rng: random.Random) -> str:
    return "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 6)))


def a_float(rng: random.Random) -> float:
    """Any finite double: random bits, or the shapes formatting rules turn on."""
    while True:
        value = float(
            rng.choice(
                [
                    rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30),
                    float(rng.randint(-(2**60), 2**60)),
                    10.0 ** rng.randint(-8, 22),
                    -0.0,
                    rng.randint(-1000, 1000) / 8,
                    json.loads(f"{rng.randint(1, 9)}e{rng.randint(-320, 308)}"),
                ]
            )
        )
        if value == value and abs(value) != float("inf"):
            return value


def a_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return a_string(rng)
    if kind == "int":
        return rng.choice([rng.randint(-1000, 1000), rng.randint(-(2**53) + 1, 2**53 - 1)])
    if kind == "float":
        return a_float(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [a_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {a_string(rng): a_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def events_of(rng: random.Random, count: int) -> list[NewEvent]:
    meta = Metadata(
        actor=Actor(id=f"ops-{a_string(rng)}", role=Role.SRE),
        reason=a_string(rng),
        correlation_id=str(uuid.uuid4()),
    )
    kinds = [
        lambda: PayloadReceived(raw={a_string(rng): a_value(rng) for _ in range(4)}),
        lambda: ScoreSet(score=a_float(rng), label=a_string(rng)),
        lambda: Renamed(names={a_string(rng): a_string(rng) for _ in range(3)}),
    ]
    return [NewEvent.of(rng.choice(kinds)(), meta) for _ in range(count)]


async def fill(store: PostgresEventStore, *, streams: int, per_stream: int, seed: int) -> int:
    rng = random.Random(seed)
    for index in range(streams):
        await store.append(
            f"ticket-{index}", events_of(rng, per_stream), expected_version=NO_STREAM
        )
    # A number no double holds: this one event is hashed in the legacy form (version 1), and
    # the next one still links to its hash.
    legacy = PayloadReceived(raw={"id": 12345678901234567890})
    await store.append(
        "ticket-0",
        [NewEvent.of(legacy, events_of(rng, 1)[0].metadata)],
        expected_version=per_stream,
    )
    await store.append("ticket-0", events_of(rng, 2), expected_version=per_stream + 1)
    return streams * per_stream + 3


async def outside_verdict(
    node_verifier: list[str], infra: Infrastructure, schema: str
) -> tuple[int, dict[str, Any]]:
    """`lts store export | node verify.mjs`: its exit code and report."""

    def run() -> tuple[int, dict[str, Any]]:
        environment = {**os.environ, "DATABASE_URL": infra.database_url}
        exported = subprocess.run(
            [str(LTS), "store", "export", "--schema", schema],
            env=environment,
            capture_output=True,
            check=True,
        )
        verdict = subprocess.run(node_verifier, input=exported.stdout, capture_output=True)
        assert verdict.stderr == b"", verdict.stderr.decode()
        return verdict.returncode, json.loads(verdict.stdout)

    return await asyncio.to_thread(run)


async def test_an_untouched_store_verifies_outside_python(
    store: PostgresEventStore, infra: Infrastructure, node_verifier: list[str]
) -> None:
    stored = await fill(store, streams=20, per_stream=10, seed=8785)

    code, report = await outside_verdict(node_verifier, infra, store.schema)

    assert (await store.verify()).ok
    assert report["first_break"] is None
    assert code == 0
    assert report["checked"] == stored
    assert report["streams"] == 20
    assert report["legacy"] == 1


async def test_a_rewritten_event_given_a_hash_of_its_own_is_caught_at_the_next_one_outside(
    store: PostgresEventStore, infra: Infrastructure, node_verifier: list[str]
) -> None:
    await fill(store, streams=3, per_stream=4, seed=7)
    first, target, after = (await store.read_stream("ticket-1")).events[:3]
    forged = {"names": {"release": "v9.9.9"}}
    forged_hash = event_hash(
        previous_hash=first.hash,
        event_id=target.event_id,
        stream_id=target.stream_id,
        stream_version=target.stream_version,
        type_=Renamed.type,
        schema_version=target.schema_version,
        data=forged,
        metadata=target.metadata.model_dump(mode="json"),
    )
    schema = store.schema
    raw = await asyncpg.connect(infra.database_url)
    try:
        async with raw.transaction():  # as a superuser could: the trigger off, then on
            await raw.execute(
                f'ALTER TABLE "{schema}".events DISABLE TRIGGER events_reject_update_delete'
            )
            await raw.execute(
                f'UPDATE "{schema}".events SET type = $1, data = $2::jsonb, hash = $3 '
                "WHERE position = $4",
                Renamed.type,
                json.dumps(forged),
                forged_hash,
                target.position,
            )
            await raw.execute(
                f'ALTER TABLE "{schema}".events ENABLE TRIGGER events_reject_update_delete'
            )
    finally:
        await raw.close()

    code, report = await outside_verdict(node_verifier, infra, schema)
    inside = await store.verify()

    assert code == 1
    assert report["breaks"] == 1
    assert report["first_break"]["event_id"] == str(after.event_id)
    assert report["first_break"]["stream_version"] == 3
    assert inside.first_break is not None
    assert inside.first_break.event_id == after.event_id
