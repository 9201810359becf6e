"""A batch's claims in one transaction (`claim_many`) lead where the same claims made one by one
(`claim`, the request path's single statement) lead, on real PostgreSQL."""

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
async def repositories(database_url: str) -> AsyncIterator[tuple[IntakeRepository, ...]]:
    engine = create_async_engine(asyncpg_url(database_url))
    schemas = [f"claims_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    repositories = tuple(IntakeRepository(engine, schema=s) for s in schemas)
    try:
        for repository in repositories:
            await repository.create_tables()
        yield repositories
    finally:
        async with engine.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def test_a_batch_claims_what_the_same_claims_one_by_one_claim(
    repositories: tuple[IntakeRepository, IntakeRepository],
) -> None:
    one_by_one, batched = repositories

    singles = [await one_by_one.claim(r.keys, reserve=r.reserve) for r in REQUESTS]
    together = await batched.claim_many(REQUESTS)

    assert together == singles
    assert together == [
        Claim(1, new=True),
        Claim(2, new=True),
        Claim(1),
        Claim(None),
        Claim(2),
        Claim(3, new=True),
        Claim(2),
    ]


async def test_a_later_batch_and_a_single_claim_continue_the_same_ids(
    repositories: tuple[IntakeRepository, IntakeRepository],
) -> None:
    repository, _ = repositories
    await repository.claim_many(REQUESTS)

    single = await repository.claim(["alert:c"], reserve=True)
    batch = await repository.claim_many(
        [ClaimRequest(["alert:d"], reserve=True), ClaimRequest(["alert:a"], reserve=True)]
    )

    assert single == Claim(4, new=True)
    assert batch == [Claim(5, new=True), Claim(1)]
