"""Who must approve a document before it reaches its audience (pure). External documents need
the communications lead; a security advisory also the security reviewer. Internal documents
need no one: the team's own status goes out as drafted."""

from __future__ import annotations

from collections.abc import Collection

from lts_events.actors import Role
from lts_events.contracts.comms.documents import Audience, DocumentKind


def required_roles(kind: DocumentKind, audience: Audience) -> frozenset[Role]:
    if audience is Audience.INTERNAL:
        return frozenset()
    if kind is DocumentKind.SECURITY_ADVISORY:
        return frozenset({Role.COMMUNICATIONS_LEAD, Role.SECURITY_REVIEWER})
    return frozenset({Role.COMMUNICATIONS_LEAD})


def missing_roles(
    kind: DocumentKind, audience: Audience, approved: Collection[Role]
) -> frozenset[Role]:
    return required_roles(kind, audience) - set(approved)


def reviewing_role(
    kind: DocumentKind, audience: Audience, held: Collection[Role], approved: Collection[Role]
) -> Role | None:
    """The role a reviewer acts in: one they hold that the document still needs (the first by
    name, so the choice is stable), else one they hold that it needs at all (a second approval
    in the same role changes nothing), else None: they may not review it."""
    needed = required_roles(kind, audience)
    for pool in (needed - set(approved), needed):
        roles = sorted(pool & set(held))
        if roles:
            return roles[0]
    return None


RELEASE_ROLES = frozenset({Role.COMMUNICATIONS_LEAD})
EMBARGO_ROLES = frozenset({Role.SECURITY_REVIEWER})
# Who may read an advisory's content while it is under embargo (the API shows others only that
# an embargoed advisory exists).
EMBARGO_READERS = frozenset({Role.COMMUNICATIONS_LEAD, Role.SECURITY_REVIEWER})


def may_read_embargoed(held: Collection[Role]) -> bool:
    return bool(EMBARGO_READERS & set(held))
