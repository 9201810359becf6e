"""For any order of drafts, approvals, embargo times, release requests and timer firings, no
external release of an advisory happens before its embargo lifted, and the lift itself never
precedes the fix's publication or the embargo time in force."""

from __future__ import annotations

from datetime import datetime, timedelta

from comms_builders import T0
from hypothesis import given, settings
from hypothesis import strategies as st
from lts_comms.document import (
    Approve,
    Command,
    Draft,
    DraftContent,
    FireEmbargoTimer,
    RequestRelease,
    Reviewer,
    SetEmbargo,
    decide,
    fold,
)
from lts_events.actors import Role
from lts_events.contracts.comms.documents import (
    Audience,
    DocumentDrafted,
    DocumentKind,
    DocumentReleased,
    EmbargoLifted,
    EmbargoSet,
    Renderings,
)
from lts_events.event import Event

REVIEWERS = (
    Reviewer("carol", frozenset({Role.COMMUNICATIONS_LEAD})),
    Reviewer("sam", frozenset({Role.SECURITY_REVIEWER})),
    Reviewer("both", frozenset({Role.COMMUNICATIONS_LEAD, Role.SECURITY_REVIEWER})),
)
hours = st.integers(min_value=0, max_value=48).map(lambda h: T0 + timedelta(hours=h))


def draft(fix_published_at: datetime | None, text: str) -> Draft:
    content = DraftContent(
        document_id="advisory-1",
        kind=DocumentKind.SECURITY_ADVISORY,
        audience=Audience.EXTERNAL,
        title="x_LTS-1",
        renderings=Renderings(markdown=text, html=text, text=text),
        template="t",
        facts={"text": text},
        fix_published_at=fix_published_at,
    )
    return Draft(content, "lts-comms")


commands = st.one_of(
    st.builds(draft, st.none() | hours, st.sampled_from(["a", "b", "c"])),
    st.builds(Approve, st.sampled_from(REVIEWERS), st.integers(1, 4)),
    st.builds(SetEmbargo, st.sampled_from(REVIEWERS), hours),
    st.builds(RequestRelease, st.sampled_from(REVIEWERS)),
    st.just(FireEmbargoTimer()),
)


@settings(max_examples=400, deadline=None)
@given(
    first=st.builds(draft, st.none() | hours, st.just("a")),
    steps=st.lists(st.tuples(commands, st.integers(0, 6)), max_size=25),
)
def test_no_external_release_before_the_embargo_lifted(
    first: Draft, steps: list[tuple[Command, int]]
) -> None:
    now = T0
    history: list[Event] = list(decide(fold([]), first, now=now).events)
    for command, wait in steps:
        now += timedelta(hours=wait)
        history += decide(fold(history), command, now=now).events

    until: datetime | None = None
    fix: datetime | None = None
    lifted: EmbargoLifted | None = None
    for event in history:
        match event:
            case DocumentDrafted():
                fix = event.fix_published_at
            case EmbargoSet() if lifted is None:
                until = event.until
            case EmbargoLifted():
                assert fix is not None, "lifted before any fix was published"
                assert event.lifted_at >= fix
                assert until is None or event.lifted_at >= until
                lifted = event
            case DocumentReleased(audience=Audience.EXTERNAL):
                assert lifted is not None, "released externally before the lift"
                assert event.released_at >= lifted.lifted_at
