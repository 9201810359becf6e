"""Every document kind, drafted from the same facts, in its three renderings, compared with
golden files (read once by eye). `LTS_UPDATE_GOLDEN=1` rewrites them after a deliberate change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from comms_builders import (
    bug_ticket,
    candidate,
    drafter,
    published,
    rolled_back,
    security_ticket,
)
from lts_comms.document import DraftContent
from lts_comms.projection import release_view, ticket_view

GOLDEN = Path(__file__).parents[1] / "golden"


def documents() -> dict[str, DraftContent]:
    tickets = [
        ticket_view(42, [security_ticket()]),
        ticket_view(43, [bug_ticket(api_change=True)]),
    ]
    release = release_view("1.4.3", [candidate(), published()])
    back = release_view("1.4.3", [candidate(), published(), rolled_back()])
    make = drafter()
    by_id = {d.document_id: d for d in make.for_release(release, tickets)}
    for amended in make.for_release(back, tickets):
        if amended.document_id == "release-note-1.4.3":
            by_id["release-note-1.4.3-amended"] = amended
        elif amended.document_id not in by_id:
            by_id[amended.document_id] = amended  # the rollback's internal status
    advisory = make.advisory(tickets[0], [release])
    by_id[advisory.document_id] = advisory
    return by_id


CASES = sorted(documents())


@pytest.mark.parametrize("document_id", CASES)
@pytest.mark.parametrize("form", ["markdown", "html", "text"])
def test_rendering_matches_its_golden_file(document_id: str, form: str) -> None:
    rendered = getattr(documents()[document_id].renderings, form)
    suffix = {"markdown": "md", "html": "html", "text": "txt"}[form]
    path = GOLDEN / f"{document_id}.{suffix}"
    if os.environ.get("LTS_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(rendered)
    assert rendered == path.read_text()
