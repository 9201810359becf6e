"""How the chaos suite judges the release load (`chaos/release_checks.py`), without I/O: each
decision release and comms took for it, each mail and index file, must be there exactly once."""

from __future__ import annotations

from typing import Any

from lts_events.contracts.comms.delivery import (
    DeliveriesPlanned,
    DeliveryAttempted,
    DeliverySucceeded,
)
from lts_events.contracts.comms.documents import DocumentReleased
from lts_events.contracts.release.publication import (
    ChannelPublished,
    ReleaseMarkedUnsafe,
    ReleaseYanked,
)

from chaos.checks import Counts, failures
from chaos.release_checks import (
    Mail,
    ReleaseCounts,
    Tally,
    decision_keys,
    documents,
    expected_decisions,
    tally,
    tally_comms,
)
from chaos.releases import Released
from chaos.table import render

RELEASED = [
    Released(7, ("1.4", "1.3"), "1.4", "1.4.3rc1", "1.4.3", ("a.whl", "a.tar.gz")),
    Released(9, ("1.4",), "1.4", "1.4.4rc1", "1.4.4", ("b.whl", "b.tar.gz")),
]
MAILED = {
    "internal_status": ["one@lists.test", "two@lists.test"],
    "release_note": ["users@lists.test", "announce@lists.test"],
}


def kind_of(document: str) -> str:
    return "release_note" if document.startswith("release-note-") else "internal_status"


def stored_decisions() -> list[tuple[str, ...]]:
    """What release stores for `RELEASED` when nothing is lost or doubled."""
    return expected_decisions(RELEASED)


def test_every_decision_once_is_exact_and_a_copy_or_a_second_candidate_is_twice() -> None:
    assert tally(stored_decisions(), stored_decisions()) == Tally(once=29, missing=0, twice=0)

    doubled = [*stored_decisions(), ("candidate-1.4.3rc1", "lts.release.release_published")]
    assert tally(stored_decisions(), doubled) == Tally(once=28, missing=0, twice=1)

    second_candidate = [*stored_decisions(), ("candidate-1.4.3rc2", "x")]
    assert tally(stored_decisions(), second_candidate).twice == 1

    lost = [k for k in stored_decisions() if k != ("rollout-1.4.4", "lts.release.rolled_back")]
    assert tally(stored_decisions(), lost) == Tally(once=28, missing=1, twice=0)


def test_every_approved_line_gets_a_backport_and_every_channel_a_publication() -> None:
    keys = set(expected_decisions(RELEASED[:1]))

    assert ("backport-7-1.3", "lts.release.backport_opened") in keys
    assert ("backport-7-1.4", "lts.release.backport_released") in keys
    assert ("candidate-1.4.3rc1", ChannelPublished.type, "pypi") in keys
    assert ("candidate-1.4.3rc1", "withdrawn", "release-page") in keys


def test_a_withdrawal_counts_once_per_channel_whether_yanked_or_marked_unsafe() -> None:
    stream = "candidate-1.4.3rc1"

    yanked = decision_keys(stream, ReleaseYanked.type, {"channel": "release-page"})
    unsafe = decision_keys(stream, ReleaseMarkedUnsafe.type, {"channels": ["pypi"]})

    assert yanked + unsafe == [(stream, "withdrawn", "release-page"), (stream, "withdrawn", "pypi")]


def comms_events(*, extra: list[tuple[str, dict[str, Any]]] | None = None) -> list[Any]:
    """Comms' events for `RELEASED[:1]`: its note and both statuses released (r1), planned,
    delivered to each of their recipients."""
    events: list[tuple[str, dict[str, Any]]] = []
    for document in documents(RELEASED[:1]):
        head = {"document_id": document, "revision": 1, "kind": kind_of(document)}
        events.append((DocumentReleased.type, head))
        events.append((DeliveriesPlanned.type, head))
        for recipient in MAILED[kind_of(document)]:
            delivery = f"{document}.r1.email.{recipient}"
            events.append((DeliveryAttempted.type, attempt(delivery, document, recipient)))
            events.append((DeliverySucceeded.type, {"delivery_id": delivery}))
    return events + (extra or [])


def attempt(delivery: str, document: str, recipient: str, *, resend: bool = False) -> Any:
    return {
        "delivery_id": delivery,
        "document_id": document,
        "revision": 1,
        "target": {"recipient": recipient},
        "idempotency_key": f"<{delivery}>",
        "resends_unconfirmed": resend,
    }


def mails() -> list[Mail]:
    return [
        Mail(f"{document} r1", recipient, f"<{document}.r1.email.{recipient}>")
        for document in documents(RELEASED[:1])
        for recipient in MAILED[kind_of(document)]
    ]


def test_each_note_and_status_released_planned_delivered_and_mailed_once_is_exact() -> None:
    counts = ReleaseCounts(released=1, replayed=9)

    tally_comms(counts, RELEASED[:1], MAILED, comms_events(), mails())

    assert counts.documents == Tally(once=3 + 3 + 6, missing=0, twice=0)
    assert counts.effects == Tally(once=6, missing=0, twice=0)
    assert counts.failures(asked=1) == []


def test_a_delivery_planned_twice_or_a_mail_sent_twice_is_counted() -> None:
    document = "status-1.4.3-published"
    planned_again = (
        DeliveriesPlanned.type,
        {"document_id": document, "revision": 1, "kind": "internal_status"},
    )
    counts = ReleaseCounts(released=1, replayed=9)

    tally_comms(
        counts,
        RELEASED[:1],
        MAILED,
        comms_events(extra=[planned_again]),
        [*mails(), mails()[0]],
    )

    assert counts.documents.twice == 1
    assert counts.effects.twice == 1
    assert len(counts.failures(asked=1)) == 2


def test_a_mail_sent_again_after_an_unconfirmed_send_is_allowed_with_the_same_message_id() -> None:
    document, recipient = "status-1.4.3-published", MAILED["internal_status"][0]
    delivery = f"{document}.r1.email.{recipient}"
    resend = (DeliveryAttempted.type, attempt(delivery, document, recipient, resend=True))
    counts = ReleaseCounts(released=1, replayed=9)
    again = next(m for m in mails() if m.document == f"{document} r1" and m.recipient == recipient)

    tally_comms(counts, RELEASED[:1], MAILED, comms_events(extra=[resend]), [*mails(), again])

    assert counts.resent == 1
    assert counts.effects.exact


def test_a_lost_mail_or_an_undelivered_status_fails() -> None:
    without_rollback = [
        e for e in comms_events() if e[1].get("document_id") != "status-1.4.3-rollback-1"
    ]
    counts = ReleaseCounts(released=1, replayed=9)

    tally_comms(counts, RELEASED[:1], MAILED, without_rollback, mails()[1:])

    assert counts.documents.missing == 1  # the rollback's status never released
    assert counts.effects.missing == 1  # the first mail of the publication's status


def test_releases_that_did_not_come_through_fail_the_run_and_show_in_the_table() -> None:
    counts = Counts(inputs=0, releases_asked=3, releases=ReleaseCounts(released=2, replayed=9))

    assert failures(counts) == ["releases: 2 of 3 came through"]
    assert "release once/missing/twice" in render([("replicas", counts)])
    assert render([("baseline", Counts(inputs=0))]).splitlines()[2].endswith("pass")


def test_a_run_whose_messages_were_not_published_again_fails() -> None:
    counts = ReleaseCounts(released=3, replayed=0)

    assert counts.failures(asked=3) == ["releases: no message of theirs was published again"]
