"""Resolving a batch's dedup keys to tickets, in order (pure)."""

from __future__ import annotations

from lts_intake.claims import Claim, ClaimRequest, resolve_claims


def test_the_same_fingerprint_twice_in_a_batch_opens_one_ticket() -> None:
    plan = resolve_claims(
        [
            ClaimRequest(["alert:a"], reserve=True),
            ClaimRequest(["alert:b"], reserve=True),
            ClaimRequest(["alert:a"], reserve=True),
        ],
        known={},
        counter=41,
    )

    assert plan.claims == [Claim(42, new=True), Claim(43, new=True), Claim(42)]
    assert plan.links == {"alert:a": 42, "alert:b": 43}
    assert plan.counter == 43


def test_the_first_known_key_wins_and_the_other_keys_are_linked_to_it() -> None:
    plan = resolve_claims(
        [ClaimRequest(["advisory:GHSA-1", "advisory:CVE-2", "advisory:PYSEC-3"], reserve=True)],
        known={"advisory:CVE-2": 7, "advisory:PYSEC-3": 9},
        counter=10,
    )

    assert plan.claims == [Claim(7)]
    assert plan.links == {"advisory:GHSA-1": 7}
    assert plan.counter == 10


def test_a_request_that_may_not_reserve_claims_nothing_for_unknown_keys() -> None:
    plan = resolve_claims(
        [ClaimRequest(["alert:gone"], reserve=False), ClaimRequest(["alert:c"], reserve=True)],
        known={},
        counter=0,
    )

    assert plan.claims == [Claim(None), Claim(1, new=True)]
    assert plan.links == {"alert:c": 1}


def test_a_resolve_after_an_open_in_the_same_batch_finds_the_new_ticket() -> None:
    plan = resolve_claims(
        [ClaimRequest(["alert:x"], reserve=True), ClaimRequest(["alert:x"], reserve=False)],
        known={},
        counter=5,
    )

    assert plan.claims == [Claim(6, new=True), Claim(6)]


def test_new_ids_follow_the_counter_without_gaps() -> None:
    plan = resolve_claims(
        [ClaimRequest([f"alert:{n}"], reserve=True) for n in range(5)], known={}, counter=100
    )

    assert [c.ticket_id for c in plan.claims] == [101, 102, 103, 104, 105]
    assert plan.counter == 105
