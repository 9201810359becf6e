"""Who may review what, and the refusals that are recorded (pure)."""

from __future__ import annotations

from datetime import timedelta

from comms_builders import T0
from lts_comms.document import (
    Approve,
    Draft,
    DraftContent,
    Refuse,
    RequestRelease,
    Reviewer,
    SetEmbargo,
    decide,
    fold,
)
from lts_events.actors import Role
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentApproved,
    DocumentKind,
    DocumentReleased,
    RefusalKind,
    Renderings,
)
from lts_events.event import Event

LEAD = Reviewer("carol", frozenset({Role.COMMUNICATIONS_LEAD}))
SECURITY = Reviewer("sam", frozenset({Role.SECURITY_REVIEWER}))
MAINTAINER = Reviewer("max", frozenset({Role.MAINTAINER}))


def drafted(kind: DocumentKind, text: str = "a", *, fix: bool = False) -> Draft:
    content = DraftContent(
        document_id="d",
        kind=kind,
        audience=Audience.EXTERNAL,
        title="t",
        renderings=Renderings(markdown=text, html=text, text=text),
        template="t",
        facts={"text": text},
        fix_published_at=T0 if fix else None,
    )
    return Draft(content, "lts-comms")


def history(*drafts: Draft) -> list[Event]:
    events: list[Event] = []
    for draft in drafts:
        events += decide(fold(events), draft, now=T0).events
    return events


def test_a_note_is_released_on_the_communications_leads_approval_alone() -> None:
    state = fold(history(drafted(DocumentKind.RELEASE_NOTE)))

    events = decide(state, Approve(LEAD, 1), now=T0).events

    assert [type(e) for e in events] == [DocumentApproved, DocumentReleased]


def test_an_advisory_needs_the_security_reviewer_too() -> None:
    state = fold(history(drafted(DocumentKind.SECURITY_ADVISORY, fix=True)))

    events = decide(state, Approve(LEAD, 1), now=T0 + timedelta(hours=1)).events

    assert [type(e) for e in events] == [DocumentApproved]


def test_a_maintainer_may_not_approve_and_the_refusal_is_recorded() -> None:
    state = fold(history(drafted(DocumentKind.RELEASE_NOTE)))

    decided = decide(state, Approve(MAINTAINER, 1), now=T0)

    assert decided.refusal is not None
    assert decided.refusal.refusal is RefusalKind.FORBIDDEN
    assert list(decided.events) == [decided.refusal]


def test_an_approval_of_a_superseded_revision_is_refused() -> None:
    state = fold(
        history(drafted(DocumentKind.RELEASE_NOTE, "a"), drafted(DocumentKind.RELEASE_NOTE, "b"))
    )

    decided = decide(state, Approve(LEAD, 1), now=T0)

    assert decided.refusal is not None
    assert decided.refusal.refusal is RefusalKind.CONFLICT
    assert "superseded by 2" in decided.refusal.reason


def test_a_refused_revision_is_not_released_by_a_later_approval() -> None:
    events = history(drafted(DocumentKind.RELEASE_NOTE))
    events += decide(fold(events), Refuse(LEAD, 1, "wrong version"), now=T0).events

    decided = decide(fold(events), RequestRelease(LEAD), now=T0)

    assert decided.refusal is not None
    assert "revision 1 was refused" in decided.refusal.reason


def test_only_the_security_reviewer_sets_an_embargo_and_only_on_an_advisory() -> None:
    note = fold(history(drafted(DocumentKind.RELEASE_NOTE)))
    advisory = fold(history(drafted(DocumentKind.SECURITY_ADVISORY)))

    by_lead = decide(advisory, SetEmbargo(LEAD, T0), now=T0).refusal
    on_note = decide(note, SetEmbargo(SECURITY, T0), now=T0).refusal

    assert by_lead is not None
    assert by_lead.refusal is RefusalKind.FORBIDDEN
    assert on_note is not None
    assert on_note.refusal is RefusalKind.CONFLICT
