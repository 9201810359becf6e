"""Read-only routes of the delivery side: the Atom feeds of released notes and advisories and
the OSV records of released advisories (public: all of it is published), and where each
document was delivered (`GET /deliveries`, for any authenticated caller)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from lts_events.auth import Authenticator
from pydantic import BaseModel, Field

from lts_comms.delivery.catalog import DeliveryLog, ReleasedCatalog
from lts_comms.delivery.feeds import ADVISORY_KINDS, RELEASE_KINDS, atom_feed, osv_records, osv_zip
from lts_comms.delivery.report import delivery_rows

ATOM = "application/atom+xml"


def build_feeds_router(catalog: ReleasedCatalog, *, base_url: str) -> APIRouter:
    router = APIRouter(tags=["feeds"])

    @router.get("/feeds/releases.atom", response_class=Response)
    async def releases_feed() -> Response:
        """Released release notes and upgrade guidance, newest first."""
        documents = [d for d in await catalog.external() if d.kind in RELEASE_KINDS]
        body = atom_feed(
            documents, title="LTS Flow releases", base_url=base_url, path="/feeds/releases.atom"
        )
        return Response(body, media_type=ATOM)

    @router.get("/feeds/advisories.atom", response_class=Response)
    async def advisories_feed() -> Response:
        """Released security advisories (after their embargo lifted), newest first."""
        documents = [d for d in await catalog.external() if d.kind in ADVISORY_KINDS]
        body = atom_feed(
            documents,
            title="LTS Flow security advisories",
            base_url=base_url,
            path="/feeds/advisories.atom",
        )
        return Response(body, media_type=ATOM)

    @router.get("/osv/all.zip", response_class=Response)
    async def osv_all() -> Response:
        """Every released advisory's OSV record, as `<id>.json` files in one zip."""
        records = osv_records(await catalog.external())
        return Response(osv_zip(records), media_type="application/zip")

    @router.get("/osv/{osv_id}.json")
    async def osv_one(osv_id: str) -> Response:
        """One released advisory's OSV record (schema 1.7.5)."""
        record = osv_records(await catalog.external()).get(osv_id)
        if record is None:
            raise HTTPException(404, f"no released advisory {osv_id}")
        return Response(json.dumps(record, indent=2), media_type="application/json")

    return router


class DeliveryView(BaseModel):
    delivery_id: str
    document: str = Field(description="`<document id> r<revision>`")
    channel: str
    recipient: str
    status: str = Field(description="sending, retrying, delivered or gave up")
    attempts: int
    detail: str = Field(description="The last answer (SMTP reply, HTTP status) or reason")
    at: str


def build_deliveries_router(log: DeliveryLog, authenticator: Authenticator) -> APIRouter:
    router = APIRouter(tags=["delivery"])

    @router.get("/deliveries", dependencies=[Depends(authenticator)])
    async def deliveries(
        document: Annotated[str | None, Query(description="Only this document's")] = None,
    ) -> list[DeliveryView]:
        """Every delivery (or one document's): channel, recipient, tries, status, last answer."""
        rows = delivery_rows(await log.events())
        return [
            DeliveryView(**row.as_dict())
            for row in rows
            if document is None or row.document.rsplit(" r", 1)[0] == document
        ]

    return router
