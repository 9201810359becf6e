"""The rollout part's `RollbackChannels`, answered by publication: a rolled-back version is
yanked where a channel can and marked unsafe elsewhere (`Publication.withdraw_version`).

Re-promoting the previous safe version needs nothing from these channels: its files never
left the index or the page; deployers move traffic back on `RollbackStarted`."""

from __future__ import annotations

from collections.abc import Sequence

from lts_events.actors import automation

from lts_release.publication.service import CandidateNotFound, Publication, Refused

ACTOR = automation("release")


class PublicationRollback:
    def __init__(self, publication: Publication) -> None:
        self.publication = publication

    async def roll_back(
        self,
        *,
        candidate_id: str | None,
        line: str,
        from_version: str,
        to_version: str,
        reason: str,
    ) -> Sequence[str]:
        """The channels `from_version` was withdrawn from (none when it was never published
        here); `ChannelUnavailable` when a channel could not act yet (the rollback retries).
        The publication is `candidate_id` when the rollout knows it, else found by version."""
        why = f"rolled back to {to_version}: {reason}"
        try:
            if candidate_id is not None:
                withdrawn = await self.publication.withdraw(candidate_id, actor=ACTOR, reason=why)
            else:
                withdrawn = await self.publication.withdraw_version(
                    from_version, actor=ACTOR, reason=why
                )
        except (CandidateNotFound, Refused):
            return ()
        return tuple(sorted(withdrawn.withdrawn_from))
