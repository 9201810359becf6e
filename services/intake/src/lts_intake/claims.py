"""Which ticket each of a batch of commands leads to: pure resolution over the dedup keys the
database already knows, in input order, so that two alerts of one batch with the same
fingerprint land on one ticket and new tickets get consecutive ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Claim:
    """The ticket a set of dedup keys leads to; `new` when its id was just reserved."""

    ticket_id: int | None
    new: bool = False


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    keys: Sequence[str]
    reserve: bool  # take the next id when no key is known (opening); else claim nothing
    link: bool = True  # False: only find the ticket (a redelivery, whose keys decide nothing)


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    claims: list[Claim]  # one per request, in order
    links: dict[str, int]  # keys to record, with their ticket
    counter: int  # the last ticket id taken


def resolve_claims(
    requests: Sequence[ClaimRequest], *, known: Mapping[str, int], counter: int
) -> ClaimPlan:
    """The claim rule (its only home), for each request in turn: the first known key's ticket
    wins, else (when reserving) the next id; every key of the request is then linked to that
    ticket unless it already leads somewhere."""
    linked = dict(known)
    links: dict[str, int] = {}
    claims: list[Claim] = []
    for request in requests:
        keys = list(dict.fromkeys(request.keys))
        ticket_id = next((linked[key] for key in keys if key in linked), None)
        new = False
        if ticket_id is None:
            if not request.reserve:
                claims.append(Claim(None))
                continue
            counter += 1
            ticket_id, new = counter, True
        for key in keys if request.link else ():
            if key not in linked:
                linked[key] = links[key] = ticket_id
        claims.append(Claim(ticket_id, new))
    return ClaimPlan(claims, links, counter)
