"""The Atom feeds as feedparser reads them, and the OSV export's layout."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import feedparser
from lts_comms.delivery.feeds import atom_feed, osv_records, osv_zip
from lts_events.contracts.comms.documents import DocumentKind

from ..delivery_examples import RELEASED_AT, released

OSV = {
    "schema_version": "1.7.5",
    "id": "x_LTS-2026-1",
    "modified": "2026-12-01T12:00:00Z",
    "summary": "Session fixation in login",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "lts-flow"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "1.4.0"}, {"fixed": "1.4.3"}]}
            ],
        }
    ],
}


def test_a_feed_reader_sees_one_entry_per_document_newest_first() -> None:
    older = released("note-1.4.2", title="lts-flow 1.4.2 released").model_copy(
        update={"released_at": RELEASED_AT - timedelta(days=7)}
    )
    newer = released("note-1.4.3", title="lts-flow 1.4.3 released")

    parsed = feedparser.parse(
        atom_feed(
            [newer, older],
            title="LTS Flow releases",
            base_url="http://comms",
            path="/feeds/releases.atom",
        )
    )

    assert not parsed.bozo
    assert parsed.feed.title == "LTS Flow releases"
    assert [e.title for e in parsed.entries] == [
        "lts-flow 1.4.3 released",
        "lts-flow 1.4.2 released",
    ]
    assert parsed.entries[0].id == "urn:lts-flow:document:note-1.4.3"
    assert parsed.entries[0].link == "http://comms/documents/note-1.4.3"
    assert parsed.entries[0].updated_parsed[:3] == (2026, 12, 1)
    assert "pip install" in parsed.entries[0].content[0].value


def test_an_empty_feed_is_still_valid_atom() -> None:
    parsed = feedparser.parse(
        atom_feed([], title="LTS Flow security advisories", base_url="http://c", path="/f")
    )

    assert not parsed.bozo
    assert parsed.entries == []


def test_the_osv_export_holds_each_released_advisory_s_record_as_id_json() -> None:
    advisory = released("advisory-1", kind=DocumentKind.SECURITY_ADVISORY).model_copy(
        update={"osv": OSV}
    )

    records = osv_records([advisory, released()])
    archive = zipfile.ZipFile(io.BytesIO(osv_zip(records)))

    assert records == {"x_LTS-2026-1": OSV}
    assert archive.namelist() == ["x_LTS-2026-1.json"]
    assert json.loads(archive.read("x_LTS-2026-1.json")) == OSV
