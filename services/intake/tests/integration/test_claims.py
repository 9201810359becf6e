"""Claims (`claim_many`) on real PostgreSQL: a batch's keys lead to tickets in input order, and a
later batch continues the same ids and finds the keys an earlier one linked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from lts_events.store.postgres import asyncpg_url
from lts_intake.claims import Claim, ClaimRequest
from lts_intake.repository import IntakeRepository
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.integration

REQUESTS = [
    ClaimRequest(["alert:a"], reserve=True),
    ClaimRequest(["advisory:GHSA-1", "advisory:CVE-1"], reserve=True),
    ClaimRequest(["alert:a"], reserve=True),
    ClaimRequest(["alert:unknown"], reserve=False),
    ClaimRequest(["advisory:PYSEC-9", "advisory:CVE-1"], reserve=True),
    ClaimRequest(["alert:b", "alert:b"], reserve=True),
    ClaimRequest(["advisory:PYSEC-9"], reserve=False),
]


@pytest.fixture
async def repository(database_url: str) -> AsyncIterator[IntakeRepository]:
    engine = create_async_engine(asyncpg_url(database_url))
    schema = f"claims_{uuid.uuid4().hex[:10]}"
    repository = IntakeRepository(engine, schema=schema)
    try:
        await repository.create_tables()
        yield repository
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def test_a_batch_claims_tickets_in_input_order(repository: IntakeRepository) -> None:
    claims = await repository.claim_many(REQUESTS)

    assert claims == [
        Claim(1, new=True),
        Claim(2, new=True),
        Claim(1),
        Claim(None),
        Claim(2),
        Claim(3, new=True),
        Claim(2),
    ]


async def test_a_later_batch_continues_the_ids_and_finds_the_keys_linked_before(
    repository: IntakeRepository,
) -> None:
    await repository.claim_many(REQUESTS)

    later = await repository.claim_many(
        [
            ClaimRequest(["alert:c"], reserve=True),
            ClaimRequest(["advisory:PYSEC-9"], reserve=False),
            ClaimRequest(["alert:a"], reserve=True),
        ]
    )

    assert later == [Claim(4, new=True), Claim(2), Claim(1)]


async def test_a_lookup_links_no_key(repository: IntakeRepository) -> None:
    await repository.claim_many([ClaimRequest(["alert:a"], reserve=True)])

    found = await repository.claim_many(
        [ClaimRequest(["alert:a", "alert:z"], reserve=False, link=False)]
    )
    after = await repository.claim_many([ClaimRequest(["alert:z"], reserve=False)])

    assert found == [Claim(1)]
    assert after == [Claim(None)]
