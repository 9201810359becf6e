"""The Atom feeds of released documents (feedgen) and the OSV export, built from released
revisions: pure, no store, no clock (a feed's `updated` is its newest entry's)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from lts_events.contracts.comms.documents import DocumentKind, DocumentReleased

RELEASE_KINDS = frozenset({DocumentKind.RELEASE_NOTE, DocumentKind.UPGRADE_GUIDANCE})
ADVISORY_KINDS = frozenset({DocumentKind.SECURITY_ADVISORY})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def atom_feed(
    documents: Sequence[DocumentReleased], *, title: str, base_url: str, path: str
) -> bytes:
    """An Atom feed (RFC 4287) of `documents`, newest first: one entry per document (its id
    stays across revisions; `updated` is the latest revision's release), content the HTML."""
    feed = FeedGenerator()
    feed.id(f"{base_url}{path}")
    feed.title(title)
    feed.author({"name": "LTS Flow"})
    feed.link(href=f"{base_url}{path}", rel="self")
    feed.updated(max((d.released_at for d in documents), default=EPOCH))
    for document in documents:
        entry = feed.add_entry(order="append")
        entry.id(f"urn:lts-flow:document:{document.document_id}")
        entry.title(document.title)
        entry.updated(document.released_at)
        entry.published(document.released_at)
        entry.link(href=f"{base_url}/documents/{document.document_id}", rel="alternate")
        entry.content(document.renderings.html, type="html")
    atom: bytes = feed.atom_str(pretty=True)
    return atom


def osv_records(documents: Sequence[DocumentReleased]) -> dict[str, dict[str, Any]]:
    """The OSV record of every released advisory that has one, by OSV id."""
    return {
        str(document.osv["id"]): document.osv
        for document in documents
        if document.kind in ADVISORY_KINDS and document.osv is not None
    }


def osv_zip(records: dict[str, dict[str, Any]]) -> bytes:
    """Every record as `<id>.json` in one zip, as OSV's own `all.zip` exports are laid out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for osv_id, record in sorted(records.items()):
            archive.writestr(f"{osv_id}.json", json.dumps(record, indent=2, sort_keys=True))
    return buffer.getvalue()
