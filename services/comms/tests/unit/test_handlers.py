"""The shell over the in-memory store: facts in, documents drafted, reviewed, released."""

from __future__ import annotations

from datetime import timedelta

from comms_builders import (
    T0,
    bug_ticket,
    candidate,
    drafter,
    published,
    rolled_back,
    security_ticket,
)
from lts_comms.document import Approve, RequestRelease, Reviewer, SetEmbargo
from lts_comms.handlers import Caller, CommsHandlers
from lts_comms.views import view_of
from lts_events.actors import Actor, Role, automation
from lts_events.clock import FrozenClock
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentDrafted,
    DocumentKind,
    DocumentReleased,
    DocumentRequestRefused,
    EmbargoLifted,
    RevisionCause,
    document_stream,
)
from lts_events.envelope import Metadata
from lts_events.store.memory import InMemoryEventStore
from lts_events.store.port import Checkpoint

AUTO = Metadata(actor=automation("comms"))
LEAD = Reviewer("carol", frozenset({Role.COMMUNICATIONS_LEAD}))
SECURITY = Reviewer("sam", frozenset({Role.SECURITY_REVIEWER}))


def caller(reviewer: Reviewer) -> Caller:
    return Caller(Actor(id=reviewer.actor, role=min(reviewer.roles)), reviewer.roles)


def shell() -> tuple[CommsHandlers, InMemoryEventStore, FrozenClock]:
    store, clock = InMemoryEventStore(), FrozenClock(T0)
    return CommsHandlers(store, clock=clock, drafter=drafter()), store, clock


async def events_of(store: InMemoryEventStore, document_id: str) -> list[object]:
    return [r.event for r in (await store.read_stream(document_stream(document_id))).events]


async def a_release_with_a_security_fix(handlers: CommsHandlers) -> None:
    await handlers.note(security_ticket(), AUTO)
    await handlers.note(bug_ticket(), AUTO)
    await handlers.note(candidate(), AUTO)


async def test_a_published_release_drafts_its_note_and_releases_its_internal_status() -> None:
    handlers, store, clock = shell()
    await a_release_with_a_security_fix(handlers)
    clock.set(T0 + timedelta(hours=1))

    await handlers.note(published(), AUTO)

    note = await events_of(store, "release-note-1.4.3")
    assert [type(e) for e in note] == [DocumentDrafted]
    drafted = note[0]
    assert isinstance(drafted, DocumentDrafted)
    assert "pip install 'lts-flow==1.4.3'" in drafted.renderings.markdown
    status = await events_of(store, "status-1.4.3-published")
    assert [type(e) for e in status] == [DocumentDrafted, DocumentReleased]
    released = status[1]
    assert isinstance(released, DocumentReleased)
    assert released.audience is Audience.INTERNAL
    assert "Session fixation" not in released.renderings.markdown  # embargoed details


async def test_a_redelivered_publication_drafts_nothing_new() -> None:
    handlers, store, clock = shell()
    await a_release_with_a_security_fix(handlers)
    clock.set(T0 + timedelta(hours=1))

    await handlers.note(published(), AUTO)
    await handlers.note(published(), AUTO)

    assert len(await events_of(store, "release-note-1.4.3")) == 1


async def test_the_note_is_released_once_the_communications_lead_approves() -> None:
    handlers, store, clock = shell()
    await a_release_with_a_security_fix(handlers)
    clock.set(T0 + timedelta(hours=1))
    await handlers.note(published(), AUTO)

    await handlers.ask("release-note-1.4.3", Approve(LEAD, 1), caller(LEAD))

    released = [
        e for e in await events_of(store, "release-note-1.4.3") if isinstance(e, DocumentReleased)
    ]
    assert [(e.revision, e.audience) for e in released] == [(1, Audience.EXTERNAL)]


async def test_the_document_view_names_who_approved_each_revision() -> None:
    handlers, store, clock = shell()
    await a_release_with_a_security_fix(handlers)
    clock.set(T0 + timedelta(hours=1))
    await handlers.note(published(), AUTO)
    await handlers.ask("release-note-1.4.3", Approve(LEAD, 1), caller(LEAD))

    state, _ = await handlers.load("release-note-1.4.3")
    history = (await store.read_stream(document_stream("release-note-1.4.3"))).events
    view = view_of(state, history, now=clock())

    assert [r.approved_by for r in view.revisions] == [["carol (communications_lead)"]]


async def test_an_approved_advisory_waits_for_its_embargo_timer() -> None:
    handlers, store, clock = shell()
    await a_release_with_a_security_fix(handlers)  # the advisory is drafted with the candidate
    until = T0 + timedelta(hours=5)
    await handlers.ask("advisory-42", SetEmbargo(SECURITY, until), caller(SECURITY))
    for reviewer in (LEAD, SECURITY):
        await handlers.ask("advisory-42", Approve(reviewer, 1), caller(reviewer))
    clock.set(T0 + timedelta(hours=1))
    await handlers.note(published(), AUTO)  # the fix is out: a new revision, approved again
    for reviewer in (LEAD, SECURITY):
        await handlers.ask("advisory-42", Approve(reviewer, 2), caller(reviewer))

    early = await handlers.ask("advisory-42", RequestRelease(LEAD), caller(LEAD))
    clock.set(until)
    for timer in await store.due_timers(now=clock()):
        await handlers.on_timer(timer)

    assert isinstance(early.refusal, DocumentRequestRefused)
    assert "under embargo until" in early.refusal.reason
    events = await events_of(store, "advisory-42")
    kinds = [type(e).__name__ for e in events]
    assert kinds[-2:] == ["EmbargoLifted", "DocumentReleased"]
    lifted = next(e for e in events if isinstance(e, EmbargoLifted))
    assert lifted.lifted_at == until


async def test_a_rollback_amends_the_note_and_the_advisory_and_reports_internally() -> None:
    handlers, store, clock = shell()
    await a_release_with_a_security_fix(handlers)
    clock.set(T0 + timedelta(hours=1))
    await handlers.note(published(), AUTO)

    clock.set(T0 + timedelta(hours=2))
    await handlers.note(rolled_back(), AUTO)

    for document_id in ("release-note-1.4.3", "advisory-42"):
        latest = [e for e in await events_of(store, document_id) if isinstance(e, DocumentDrafted)][
            -1
        ]
        assert latest.cause is RevisionCause.AMENDED_AFTER_ROLLBACK, document_id
        assert "rolled back" in latest.renderings.markdown.lower()
    status = await events_of(store, "status-1.4.3-rollback-1")
    assert isinstance(status[-1], DocumentReleased)
    assert "Rolled back: lts-flow 1.4.3" in status[-1].renderings.text


async def test_a_cve_assigned_later_regenerates_the_advisory() -> None:
    handlers, store, _ = shell()
    await handlers.note(security_ticket(cve_ids=()), AUTO)
    await handlers.note(candidate(), AUTO)

    await handlers.note(security_ticket(cve_ids=("CVE-2026-9999",)), AUTO)

    drafts = [e for e in await events_of(store, "advisory-42") if isinstance(e, DocumentDrafted)]
    assert [(d.revision, d.cause) for d in drafts] == [
        (1, RevisionCause.DRAFTED),
        (2, RevisionCause.REGENERATED),
    ]
    assert "cve_ids" in drafts[1].changes


async def test_preview_drafts_a_candidates_note_without_storing_anything() -> None:
    handlers, store, _ = shell()
    await a_release_with_a_security_fix(handlers)
    before = len(await store.read_all(after=Checkpoint.start()))

    [note] = await handlers.preview(DocumentKind.RELEASE_NOTE, version="1.4.3", ticket_id=None)

    assert note.document_id == "release-note-1.4.3"
    assert "pip install 'lts-flow==1.4.3'" in note.renderings.text
    assert len(await store.read_all(after=Checkpoint.start())) == before


async def test_a_security_ticket_noted_after_its_release_still_gets_its_advisory() -> None:
    handlers, store, _ = shell()
    await handlers.note(candidate(), AUTO)  # the release topic was read first

    await handlers.note(security_ticket(), AUTO)

    drafts = [e for e in await events_of(store, "advisory-42") if isinstance(e, DocumentDrafted)]
    assert [d.revision for d in drafts] == [1]
