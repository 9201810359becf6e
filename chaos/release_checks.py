"""Exactly once for what the release load asked (`releases.Released`), by the stores and by the
side effects:

- release: each approved plan's backports opened, the released one ready, included in its
  candidate and released; the candidate opened, sealed, on each channel, published; its canary
  started, its rollback started and done, the version withdrawn from each channel;
- comms: each release's note and each publication's and rollback's internal status released,
  each released revision's deliveries planned, each delivery (revision x recipient) succeeded;
- side effects: one mail per delivery in the run's SMTP server (a copy more only for a send
  that was never confirmed, carrying the same Message-ID: the documented at-least-once), and in
  the run's package index exactly the files of the published releases.

Each is a key expected once; a key seen twice, or one nobody asked for (a second candidate, a
mail to nobody's delivery), counts as twice."""

from __future__ import annotations

import json
import mailbox
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from lts_events.contracts.comms.delivery import (
    DeliveriesPlanned,
    DeliveryAttempted,
    DeliverySucceeded,
)
from lts_events.contracts.comms.documents import DocumentReleased
from lts_events.contracts.release.backports import (
    BackportIncluded,
    BackportOpened,
    BackportReady,
    BackportReleased,
)
from lts_events.contracts.release.candidates import CandidateOpened
from lts_events.contracts.release.publication import (
    ChannelPublished,
    PublicationFailed,
    ReleaseMarkedUnsafe,
    ReleasePublished,
    ReleaseYanked,
)
from lts_events.contracts.release.rollout import RollbackStarted, RolledBack, RolloutStarted
from lts_events.contracts.release.staging import CandidateSealed

from chaos.releases import Released

CHANNELS = ("pypi", "release-page")
"""The release service's channels in the run: the run's package index and the release page."""
WITHDRAWN = "withdrawn"
"""One key per channel a rolled back version was withdrawn from (yanked or marked unsafe)."""
MAIL_HEADER = "X-LTS-Document"

Key = tuple[str, ...]


@dataclass
class Tally:
    once: int = 0
    missing: int = 0
    twice: int = 0
    """Seen more than once, or seen without being asked for."""

    @property
    def exact(self) -> bool:
        return self.missing == 0 and self.twice == 0

    def __str__(self) -> str:
        return f"{self.once}/{self.missing}/{self.twice}"


def tally(expected: Iterable[Key], seen: Iterable[Key]) -> Tally:
    wanted = set(expected)
    copies = Counter(seen)
    return Tally(
        once=sum(1 for key in wanted if copies[key] == 1),
        missing=sum(1 for key in wanted if copies[key] == 0),
        twice=sum(1 for key in wanted if copies[key] > 1)
        + sum(1 for key in copies if key not in wanted),
    )


@dataclass
class ReleaseCounts:
    released: int = 0
    """Releases the load published and rolled back (each a round of `releases.py`)."""
    decisions: Tally = field(default_factory=Tally)
    """Release's decisions (`expected_decisions`)."""
    documents: Tally = field(default_factory=Tally)
    """Comms: internal statuses released, deliveries planned, deliveries succeeded."""
    effects: Tally = field(default_factory=Tally)
    """Mails received per delivery, files in the package index."""
    resent: int = 0
    """Deliveries whose unconfirmed send was sent again (same Message-ID): allowed, shown."""
    replayed: int = 0
    """Messages of the release load published a second time before the count (`replay.py`)."""

    def failures(self, asked: int) -> list[str]:
        found = []
        if self.released != asked:
            found.append(f"releases: {self.released} of {asked} came through")
        if self.released and not self.replayed:
            found.append("releases: no message of theirs was published again")
        for what, counted in (
            ("release decisions", self.decisions),
            ("comms decisions", self.documents),
            ("mails and index files", self.effects),
        ):
            if not counted.exact:
                found.append(f"{what}: {counted.missing} missing, {counted.twice} twice")
        return found


def expected_decisions(released: Sequence[Released]) -> list[Key]:
    keys: list[Key] = []
    for r in released:
        keys += [(f"backport-{r.ticket_id}-{line}", BackportOpened.type) for line in r.lines]
        backport = f"backport-{r.ticket_id}-{r.line}"
        keys += [(backport, kind) for kind in (BackportReady.type, BackportIncluded.type)]
        keys.append((backport, BackportReleased.type))
        candidate = f"candidate-{r.candidate_id}"
        keys += [
            (candidate, kind)
            for kind in (CandidateOpened.type, CandidateSealed.type, ReleasePublished.type)
        ]
        keys += [(candidate, ChannelPublished.type, channel) for channel in CHANNELS]
        keys += [(candidate, WITHDRAWN, channel) for channel in CHANNELS]
        rollout = f"rollout-{r.version}"
        keys += [
            (rollout, kind) for kind in (RolloutStarted.type, RollbackStarted.type, RolledBack.type)
        ]
    return keys


DECIDED = (
    BackportOpened,
    BackportReady,
    BackportIncluded,
    BackportReleased,
    CandidateOpened,
    CandidateSealed,
    ReleasePublished,
    ChannelPublished,
    PublicationFailed,
    ReleaseYanked,
    ReleaseMarkedUnsafe,
    RolloutStarted,
    RollbackStarted,
    RolledBack,
)
"""The release events counted (a `PublicationFailed` is never asked for: always too many)."""


def decision_keys(stream: str, kind: str, data: dict[str, Any]) -> list[Key]:
    """The keys one stored release event stands for."""
    if kind in (ChannelPublished.type, PublicationFailed.type):
        return [(stream, kind, data["channel"])]
    if kind == ReleaseYanked.type:
        return [(stream, WITHDRAWN, data["channel"])]
    if kind == ReleaseMarkedUnsafe.type:
        return [(stream, WITHDRAWN, channel) for channel in data["channels"]]
    return [(stream, kind)]


def documents(released: Sequence[Released]) -> list[str]:
    """The documents every round must have released: its release note (approved by the leg)
    and the internal status of its publication and of its rollback."""
    return [
        document
        for r in released
        for document in (
            f"release-note-{r.version}",
            f"status-{r.version}-published",
            f"status-{r.version}-rollback-1",
        )
    ]


@dataclass(frozen=True)
class Mail:
    document: str
    """`X-LTS-Document`: `<document id> r<revision>`."""
    recipient: str
    message_id: str


def read_mails(maildir: Path, recipients: Sequence[str]) -> list[Mail]:
    """Every message the run's SMTP server holds for one of `recipients` (one copy per
    recipient: aiosmtpd's Mailbox stores a message once per envelope, addressed to all)."""
    box = mailbox.Maildir(maildir, create=False)
    found = []
    for message in box:
        to = [a.strip() for a in str(message.get("To", "")).split(",")]
        for recipient in recipients:
            if recipient in to:
                found.append(
                    Mail(
                        str(message.get(MAIL_HEADER, "")),
                        recipient,
                        str(message.get("Message-ID", "")),
                    )
                )
    return found


def tally_comms(
    counts: ReleaseCounts,
    released: Sequence[Released],
    mailed: Mapping[str, Sequence[str]],
    events: Sequence[tuple[str, dict[str, Any]]],
    mails: Sequence[Mail],
) -> None:
    """`mailed`: the recipients of each document kind the run mails (`LTS_COMMS_MAIL_LISTS`);
    `events`: (type, data) of comms' `DocumentReleased`, `DeliveriesPlanned`,
    `DeliveryAttempted` and `DeliverySucceeded`."""
    releases = [
        (e["document_id"], e["revision"], e["kind"])
        for kind, e in events
        if kind == DocumentReleased.type and e["kind"] in mailed
    ]
    revisions = sorted(set(releases))
    deliveries = {
        (document, str(revision), recipient)
        for document, revision, kind in revisions
        for recipient in mailed[kind]
    }
    attempts = [e for kind, e in events if kind == DeliveryAttempted.type]
    delivery_of = {
        a["delivery_id"]: (a["document_id"], str(a["revision"]), a["target"]["recipient"])
        for a in attempts
    }
    expected: list[Key] = [("released", d) for d in documents(released)]
    expected += [("planned", d, str(r)) for d, r, _ in revisions]
    expected += [("delivered", *key) for key in deliveries]
    seen: list[Key] = [("released", d) for d in {d for d, _, _ in releases}]
    seen += [
        ("released-again", d, str(r))
        for (d, r, _), n in Counter(releases).items()
        if n > 1  # a revision released twice: never asked for
    ]
    seen += [
        ("planned", e["document_id"], str(e["revision"]))
        for kind, e in events
        if kind == DeliveriesPlanned.type and e["kind"] in mailed
    ]
    seen += [
        ("delivered", *delivery_of.get(e["delivery_id"], (e["delivery_id"], "?", "?")))
        for kind, e in events
        if kind == DeliverySucceeded.type
    ]
    counts.documents = tally(expected, seen)

    resent = {
        delivery_of[a["delivery_id"]]: a["idempotency_key"]
        for a in attempts
        if a["resends_unconfirmed"]
    }
    counts.resent = len(resent)
    received: list[Key] = []
    for key, copies in _mails_by_delivery(mails).items():
        recognisable = key in resent and {m.message_id for m in copies} == {resent[key]}
        received += [("mail", *key)] * (1 if recognisable else len(copies))
    counts.effects = tally([("mail", *key) for key in deliveries], received)


def index_files_expected(released: Sequence[Released]) -> list[Key]:
    return [("index file", name) for r in released for name in r.artifacts]


def _mails_by_delivery(mails: Sequence[Mail]) -> dict[tuple[str, str, str], list[Mail]]:
    grouped: dict[tuple[str, str, str], list[Mail]] = {}
    for mail in mails:
        document, _, revision = mail.document.rpartition(" r")
        grouped.setdefault((document, revision, mail.recipient), []).append(mail)
    return grouped


async def count_releases(
    database_url: str,
    released: Sequence[Released],
    *,
    mailed: Mapping[str, Sequence[str]],
    maildir: Path,
    index_files: Sequence[str],
) -> ReleaseCounts:
    """`index_files`: the names of the run's files in the package index."""
    counts = ReleaseCounts(released=len(released))
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT stream_id, type, data FROM release.events WHERE type = ANY($1::text[])",
            [cls.type for cls in DECIDED],
        )
        seen = [
            key
            for r in rows
            for key in decision_keys(r["stream_id"], r["type"], json.loads(r["data"]))
        ]
        counts.decisions = tally(expected_decisions(released), seen)
        comms = await conn.fetch(
            "SELECT type, data FROM comms.events WHERE type = ANY($1::text[])",
            [
                cls.type
                for cls in (
                    DocumentReleased,
                    DeliveriesPlanned,
                    DeliveryAttempted,
                    DeliverySucceeded,
                )
            ],
        )
    finally:
        await conn.close()
    mails = read_mails(maildir, [r for recipients in mailed.values() for r in recipients])
    tally_comms(counts, released, mailed, [(r[0], json.loads(r[1])) for r in comms], mails)
    files = tally(index_files_expected(released), [("index file", n) for n in index_files])
    counts.effects = Tally(
        counts.effects.once + files.once,
        counts.effects.missing + files.missing,
        counts.effects.twice + files.twice,
    )
    return counts
