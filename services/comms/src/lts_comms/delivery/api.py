"""Public read-only routes of the delivery side: the Atom feeds of released notes and
advisories, and the OSV records of released advisories (no authentication: all of it is
published)."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Response

from lts_comms.delivery.catalog import ReleasedCatalog
from lts_comms.delivery.feeds import ADVISORY_KINDS, RELEASE_KINDS, atom_feed, osv_records, osv_zip

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
