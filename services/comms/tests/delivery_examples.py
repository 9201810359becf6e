"""Example values for the delivery tests: a released revision and its parts."""

from __future__ import annotations

from datetime import UTC, datetime

from lts_events.contracts.comms.documents import (
    Audience,
    DocumentKind,
    DocumentReleased,
    Renderings,
)

RELEASED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def released(
    document_id: str = "release-note-1.4.3",
    *,
    kind: DocumentKind = DocumentKind.RELEASE_NOTE,
    audience: Audience = Audience.EXTERNAL,
    revision: int = 1,
    title: str = "lts-flow 1.4.3 released",
) -> DocumentReleased:
    return DocumentReleased(
        document_id=document_id,
        kind=kind,
        revision=revision,
        audience=audience,
        title=title,
        renderings=Renderings(
            markdown=f"# {title}\n\nUpgrade: `pip install 'lts-flow==1.4.3'`\n",
            html=f"<h1>{title}</h1>\n<p>Upgrade: <code>pip install 'lts-flow==1.4.3'</code></p>\n",
            text=f"{title}\n\nUpgrade: pip install 'lts-flow==1.4.3'\n",
        ),
        release_id="1.4.3",
        released_by="comms-lead",
        released_at=RELEASED_AT,
    )
