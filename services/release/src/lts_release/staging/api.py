"""HTTP routes of staging: upload artifacts, seal, fetch the staged files.

(No `from __future__ import annotations` here: FastAPI must see the local `Annotated` aliases.)

Upload either way, with the SHA-256 declared (a mismatch is refused, nothing is stored):
- raw body (streams straight into the store, hashed as it comes):
  `POST /candidates/{id}/artifacts?name=<file>&sha256=<hex>` with any Content-Type;
- multipart/form-data: a `file` part (its filename is the name unless a `name` field is
  given) and optional `sha256` and `sbom_for` fields.
`sbom_for=<artifact>` marks the upload as CI's CycloneDX SBOM of that artifact."""

import base64
import binascii
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from lts_events.actors import Role
from lts_events.auth import Authenticator, Principal, require_role
from lts_events.contracts.release.staging import ArtifactStored, CandidateSealed, StagedFile
from lts_events.http_versions import IfMatch
from lts_events.problems import Problem
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import UploadFile

from lts_release.candidate import CandidateState
from lts_release.staging.decide import RefusalKind
from lts_release.staging.digests import CHUNK, is_sha256_hex
from lts_release.staging.service import Staging, StagingRefused, Upload
from lts_release.staging.store import BlobNotFound, DigestMismatch, TooLarge

UPLOADERS = (Role.RELEASE_MANAGER, Role.AUTOMATION)
_STATUS = {RefusalKind.NOT_FOUND: 404, RefusalKind.CONFLICT: 409, RefusalKind.INVALID: 422}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileView(_View):
    path: str
    sha256: str
    size: int
    url: str


class ArtifactView(_View):
    name: str
    sha256: str
    size: int
    media_type: str
    uploaded_by: str
    sbom_for: str | None
    url: str


class SealView(_View):
    candidate_id: str
    version: str
    public_key_fingerprint: str
    signing_algorithm: str
    bundle: FileView
    files: list[FileView]


class StagingView(_View):
    candidate_id: str
    sealed: bool
    artifacts: list[ArtifactView]
    seal: SealView | None


def build_router(staging: Staging, authenticator: Authenticator) -> APIRouter:
    # Bodies stream into the store, never buffered: no body limit of the route's own here.
    router = APIRouter(tags=["staging"])
    Authenticated = Annotated[Principal, Depends(authenticator)]
    may_upload = require_role(*UPLOADERS)
    may_seal = require_role(Role.RELEASE_MANAGER)

    @router.post("/candidates/{candidate_id}/artifacts", status_code=201)
    async def upload_artifact(
        candidate_id: str,
        request: Request,
        response: Response,
        principal: Authenticated,
        if_match: IfMatch,
        name: Annotated[str | None, Query(max_length=255)] = None,
        sha256: Annotated[str | None, Query(description="Declared SHA-256, hex")] = None,
        sbom_for: Annotated[str | None, Query(max_length=255)] = None,
    ) -> ArtifactView:
        """Store an artifact (or CI's SBOM of one, `sbom_for`) in the candidate. 412, nothing
        stored, when `If-Match` names another version than the candidate's."""
        may_upload(principal)
        upload = await _upload_of(request, candidate_id, name, sha256, sbom_for)
        actor = principal.acting_as(_role(principal))
        try:
            stored, new = await staging.upload(upload, actor=actor, if_match=if_match)
        except DigestMismatch as mismatch:
            raise Problem(422, f"sha256: {mismatch}; nothing was stored", field="sha256") from None
        except TooLarge as error:
            raise Problem(413, f"body: {error}; nothing was stored", field="body") from None
        except StagingRefused as refused:
            raise _http(refused) from None
        if not new:
            response.status_code = status.HTTP_200_OK
        return _artifact_view(stored)

    @router.post("/candidates/{candidate_id}/seal", status_code=201)
    async def seal_candidate(
        candidate_id: str, response: Response, principal: Authenticated, if_match: IfMatch
    ) -> SealView:
        """Seal: SHA256SUMS, signatures, manifest, provenance, SBOMs and the offline bundle.
        Sealing a sealed candidate answers its seal (200). 412 when `If-Match` names another
        version than the candidate's (`GET /candidates/{id}`'s ETag)."""
        may_seal(principal)
        try:
            sealed, new = await staging.seal(
                candidate_id, actor=principal.acting_as(Role.RELEASE_MANAGER), if_match=if_match
            )
        except StagingRefused as refused:
            raise _http(refused) from None
        if not new:
            response.status_code = status.HTTP_200_OK
        return _seal_view(sealed)

    @router.get("/candidates/{candidate_id}/files")
    async def staged_files(candidate_id: str, principal: Authenticated) -> StagingView:
        """The candidate's artifacts and, once sealed, every output with its digest."""
        state = await staging.candidate(candidate_id)
        if not state.exists:
            raise Problem(404, f"no candidate {candidate_id}")
        return StagingView(
            candidate_id=candidate_id,
            sealed=state.sealed is not None,
            artifacts=[_artifact_view(stored) for stored in state.staged],
            seal=_seal_view(state.sealed) if state.sealed else None,
        )

    @router.get("/candidates/{candidate_id}/files/{path:path}")
    async def staged_file(candidate_id: str, path: str, principal: Authenticated) -> Response:
        """One staged file: an artifact by name, or (sealed) SHA256SUMS, SHA256SUMS.sig,
        SHA256SUMS.cosign.sig, release.pub, manifest.json, provenance.intoto.json,
        sbom/<artifact>.cdx.json or the bundle release-<version>.tar.gz."""
        state = await staging.candidate(candidate_id)
        found = files_of(state).get(path)
        if found is None:
            raise Problem(404, f"candidate {candidate_id} has no staged file {path}", field="path")
        try:
            blob = staging.blobs.open(found.sha256)
        except BlobNotFound:
            raise Problem(404, f"{path} is missing from the artifact store") from None
        return StreamingResponse(
            _chunks(blob),
            media_type=_media_type(state, path),
            headers={
                "Content-Length": str(found.size),
                "ETag": f'"{found.sha256}"',
                "Content-Digest": f"sha-256=:{_b64(found.sha256)}:",
                "Content-Disposition": f'attachment; filename="{path.rsplit("/", 1)[-1]}"',
            },
        )

    return router


def files_of(state: CandidateState) -> dict[str, StagedFile]:
    """Every file a candidate serves, by path: its artifacts, and once sealed its outputs."""
    files = {
        stored.name: StagedFile(path=stored.name, sha256=stored.sha256, size=stored.size)
        for stored in state.staged
        if stored.sbom_for is None
    }
    if state.sealed is not None:
        files |= {file.path: file for file in _outputs(state.sealed)}
    return files


def _outputs(sealed: CandidateSealed) -> list[StagedFile]:
    return [
        sealed.sha256sums,
        *sealed.signatures,
        sealed.public_key,
        sealed.manifest,
        sealed.provenance,
        *(ref.file for ref in sealed.sboms),
        sealed.bundle,
    ]


async def _upload_of(
    request: Request, candidate_id: str, name: str | None, sha256: str | None, sbom_for: str | None
) -> Upload:
    content_type = request.headers.get("content-type", "application/octet-stream")
    if content_type.startswith("multipart/form-data"):
        return await _multipart_upload(request, candidate_id, name, sha256, sbom_for)
    if not name:
        raise Problem(422, "name: required (query) for a raw-body upload", field="query.name")
    return Upload(
        candidate_id=candidate_id,
        name=name,
        declared_sha256=_declared(sha256),
        media_type=content_type.split(";")[0].strip(),
        sbom_for=sbom_for,
        body=request.stream(),
    )


async def _multipart_upload(
    request: Request, candidate_id: str, name: str | None, sha256: str | None, sbom_for: str | None
) -> Upload:
    form = await request.form()  # python-multipart spools large parts to disk, not memory
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise Problem(422, "file: a multipart upload needs a part named 'file'", field="file")
    fields: dict[str, Any] = {key: value for key, value in form.items() if isinstance(value, str)}
    chosen = fields.get("name") or name or file.filename
    if not chosen:
        raise Problem(422, "name: the file part has no filename and no name", field="name")
    return Upload(
        candidate_id=candidate_id,
        name=chosen,
        declared_sha256=_declared(fields.get("sha256") or sha256),
        media_type=file.content_type or "application/octet-stream",
        sbom_for=fields.get("sbom_for") or sbom_for,
        body=_read_upload(file),
    )


async def _read_upload(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK):
        yield chunk


def _declared(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not is_sha256_hex(sha256.lower()):
        raise Problem(422, "sha256: 64 hexadecimal digits expected", field="sha256")
    return sha256.lower()


def _role(principal: Principal) -> Role:
    return next(role for role in UPLOADERS if principal.has(role))


def _http(refused: StagingRefused) -> Problem:
    refusal = refused.refusal
    return Problem(_STATUS[refusal.kind], refusal.reason, field=refusal.field)


def _artifact_view(stored: ArtifactStored) -> ArtifactView:
    path = stored.name if stored.sbom_for is None else f"sbom/{stored.sbom_for}.cdx.json"
    return ArtifactView(
        name=stored.name,
        sha256=stored.sha256,
        size=stored.size,
        media_type=stored.media_type,
        uploaded_by=stored.uploaded_by,
        sbom_for=stored.sbom_for,
        url=f"/candidates/{stored.candidate_id}/files/{path}",
    )


def _seal_view(sealed: CandidateSealed) -> SealView:
    def view(file: StagedFile) -> FileView:
        url = f"/candidates/{sealed.candidate_id}/files/{file.path}"
        return FileView(path=file.path, sha256=file.sha256, size=file.size, url=url)

    return SealView(
        candidate_id=sealed.candidate_id,
        version=sealed.version,
        public_key_fingerprint=sealed.public_key_fingerprint,
        signing_algorithm=sealed.signing_algorithm,
        bundle=view(sealed.bundle),
        files=[view(file) for file in _outputs(sealed)],
    )


def _media_type(state: CandidateState, path: str) -> str:
    for stored in state.staged:
        if stored.sbom_for is None and stored.name == path:
            return stored.media_type
    if path.endswith(".json"):
        return "application/json"
    if path.endswith(".tar.gz"):
        return "application/gzip"
    if path.endswith(".pub"):
        return "application/x-pem-file"
    return "text/plain" if path == "SHA256SUMS" else "application/octet-stream"


def _chunks(blob: Any) -> Iterator[bytes]:
    with blob:
        while chunk := blob.read(CHUNK):
            yield chunk


def _b64(hex_digest: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(hex_digest)).decode()
    except (ValueError, binascii.Error):
        return ""
