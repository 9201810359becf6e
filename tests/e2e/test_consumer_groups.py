"""Start-up without a rebalance storm: each service is ONE member of its consumer group, for all
the topics it consumes. (A consumer per topic in the same group joined one after the other, each
join a rebalance of every member, seconds each.) Asked of the broker, as an operator would with
`kafka-consumer-groups.sh --describe --members`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.protocol.admin import DescribeGroupsRequest_v3, DescribeGroupsResponse_v3

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.integration

SETTLE = 60.0  # a group is described as Stable once its members' join is complete


@dataclass(frozen=True)
class Group:
    group_id: str
    state: str
    subscribed: list[frozenset[str]]  # per member, the topics it subscribed to
    assigned: list[frozenset[str]]  # per member, the topics it was given partitions of


def _group(described: dict[str, Any]) -> Group:
    members = described["members"]
    return Group(
        group_id=described["group"],
        state=described["state"],
        subscribed=[
            frozenset(ConsumerProtocolMemberMetadata.decode(m["member_metadata"]).subscription)
            for m in members
        ],
        assigned=[
            frozenset(
                topic
                for topic, _ in ConsumerProtocolMemberAssignment.decode(
                    m["member_assignment"]
                ).assignment
            )
            for m in members
        ],
    )


async def _groups_of(stack: Stack) -> list[Group]:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap_servers)
    await admin.start()
    try:
        listed = await admin.list_consumer_groups()
        ours = sorted(g[0] for g in listed if g[0].startswith(stack.namespace or ""))
        responses = await admin.describe_consumer_groups(ours)
    finally:
        await admin.close()
    return [_group(g) for response in responses for g in response.to_object()["groups"]]


def _settled(stack: Stack) -> list[Group]:
    deadline = time.monotonic() + SETTLE
    while True:
        groups = asyncio.run(_groups_of(stack))
        settled = len(groups) == len(stack.services) and all(g.state == "Stable" for g in groups)
        if settled or time.monotonic() > deadline:
            return groups
        time.sleep(0.5)


@pytest.fixture
def describable(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiokafka 0.14 reads a v3 DescribeGroups answer as a v2 one (its request's RESPONSE_TYPE),
    missing the groups' `authorized_operations`: "Buffer underrun decoding string"."""
    monkeypatch.setattr(DescribeGroupsRequest_v3, "RESPONSE_TYPE", DescribeGroupsResponse_v3)


@pytest.mark.usefixtures("describable")
def test_each_service_is_one_member_of_its_group_for_every_topic_it_consumes(
    stack: Stack,
) -> None:
    assert stack.namespace, "the stack runs in a Kafka namespace of its own"

    groups = _settled(stack)

    assert len(groups) == len(stack.services), groups
    for group in groups:
        assert group.state == "Stable", group
        assert len(group.subscribed) == 1, group  # one member
        assert group.assigned == group.subscribed, group  # every topic's partitions on it
