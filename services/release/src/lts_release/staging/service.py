"""The staging shell: load the candidate, receive bytes into the artifact store, decide
(`decide.py`), append. A version conflict (another upload to the same candidate landed first)
reloads and decides again: the received blob is already stored under its digest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from lts_events.actors import Actor
from lts_events.clock import Clock
from lts_events.contracts.release.backports import backport_stream
from lts_events.contracts.release.candidates import candidate_stream
from lts_events.contracts.release.staging import ArtifactStored, CandidateSealed
from lts_events.http_versions import PreconditionFailed, Tags, Versions, is_stale
from lts_events.store.port import ConcurrencyError, EventStore

from lts_release.appending import Outcome, append
from lts_release.candidate import CandidateState, load_candidate
from lts_release.staging import decide, sbom
from lts_release.staging.keys import Signer
from lts_release.staging.seal import SealedOutputs, seal
from lts_release.staging.store import BlobStore, put_bytes, put_chunks

ATTEMPTS = 20  # concurrent uploads to one candidate each take a turn; a bound, not a wait
T = TypeVar("T")


class StagingRefused(Exception):
    def __init__(self, refusal: decide.Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


@dataclass(frozen=True)
class Upload:
    candidate_id: str
    name: str
    declared_sha256: str | None
    media_type: str
    sbom_for: str | None
    body: AsyncIterable[bytes]


class Staging:
    def __init__(
        self,
        store: EventStore,
        blobs: BlobStore,
        signer: Signer,
        *,
        clock: Clock,
        builder_id: str,
        max_artifact_bytes: int,
        max_sbom_bytes: int,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self._signer = signer
        self.clock = clock
        self.builder_id = builder_id
        self.max_artifact_bytes = max_artifact_bytes
        self.max_sbom_bytes = max_sbom_bytes

    async def candidate(self, candidate_id: str) -> CandidateState:
        state, _ = await load_candidate(self.store, candidate_id)
        return state

    async def upload(
        self, upload: Upload, *, actor: Actor, if_match: Tags | None = None
    ) -> tuple[ArtifactStored, bool]:
        """The stored artifact and whether it is new (False: the same bytes were staged).
        `PreconditionFailed` when `if_match` names another version of the candidate: compared
        before any byte is stored, and again on each attempt, whose append expects the
        version read."""
        state, versions = await load_candidate(self.store, upload.candidate_id)
        _precondition(state, versions, if_match)
        _raise(decide.refuse_upload(state, upload.candidate_id, upload.name, upload.sbom_for))
        received = await self._receive(upload)

        async def attempt() -> tuple[ArtifactStored, bool]:
            state, versions = await load_candidate(self.store, upload.candidate_id)
            _precondition(state, versions, if_match)
            decided = decide.record_upload(state, received, uploaded_by=actor.id, now=self.clock())
            if decided is None:
                existing = decide.staged_as(state, received.name, received.sbom_for)
                assert existing is not None
                return existing, False
            _raise(decided if isinstance(decided, decide.Refusal) else None)
            assert isinstance(decided, ArtifactStored)
            stream = candidate_stream(upload.candidate_id)
            await append(
                self.store,
                stream,
                [Outcome(decided, actor, "artifact uploaded")],
                version=versions.stream,
            )
            return decided, True

        return await _retrying(attempt)

    async def _receive(self, upload: Upload) -> decide.Received:
        if upload.sbom_for is None:
            blob = await put_chunks(
                self.blobs,
                upload.body,
                declared_sha256=upload.declared_sha256,
                max_bytes=self.max_artifact_bytes,
            )
            media_type = upload.media_type
        else:  # small, and checked before it is stored: CI's SBOM is taken as is if CycloneDX
            content = await _read_all(upload.body, self.max_sbom_bytes)
            problem = sbom.cyclonedx_problem(content)
            if problem is not None:
                refusal = decide.Refusal(decide.RefusalKind.INVALID, f"body: {problem}", "body")
                raise StagingRefused(refusal)
            blob = await asyncio.to_thread(
                put_bytes, self.blobs, content, declared_sha256=upload.declared_sha256
            )
            media_type = sbom.MEDIA_TYPE
        return decide.Received(upload.name, blob.sha256, blob.size, media_type, upload.sbom_for)

    async def seal(
        self, candidate_id: str, *, actor: Actor, if_match: Tags | None = None
    ) -> tuple[CandidateSealed, bool]:
        """The candidate's seal and whether this call made it (False: it was sealed before).
        `PreconditionFailed` when `if_match` names another version of the candidate: compared
        on each attempt, whose append expects the version read, so nothing staged after the
        read is sealed unseen."""

        async def attempt() -> tuple[CandidateSealed, bool]:
            state, versions = await load_candidate(self.store, candidate_id)
            _precondition(state, versions, if_match)
            if state.sealed is not None:
                return state.sealed, False
            _raise(decide.refuse_seal(state, candidate_id))
            request = decide.seal_request(
                state,
                evidence=await self._evidence(state),
                builder_id=self.builder_id,
                sealed_by=actor.id,
                now=self.clock(),
            )
            outputs = await asyncio.to_thread(seal, request, store=self.blobs, signer=self._signer)
            sealed = _sealed_event(
                request.candidate_id,
                request.version,
                request.line,
                outputs,
                sealed_by=actor.id,
                at=request.sealed_at,
            )
            stream = candidate_stream(candidate_id)
            await append(
                self.store,
                stream,
                [Outcome(sealed, actor, "candidate sealed")],
                version=versions.stream,
            )
            return sealed, True

        return await _retrying(attempt)

    async def _evidence(self, state: CandidateState) -> list[dict[str, object]]:
        assert state.opened is not None
        line = state.opened.line
        streams = [backport_stream(b.ticket_id, line) for b in state.opened.backports]
        histories = await self.store.read_streams(streams)
        return [
            decide.gate_evidence(
                (recorded.event for recorded in histories[stream].events), backport.commit
            )
            for stream, backport in zip(streams, state.opened.backports, strict=True)
        ]


def _sealed_event(
    candidate_id: str,
    version: str,
    line: str,
    outputs: SealedOutputs,
    *,
    sealed_by: str,
    at: datetime,
) -> CandidateSealed:
    return CandidateSealed(
        candidate_id=candidate_id,
        version=version,
        line=line,
        sha256sums=outputs.sha256sums,
        signatures=outputs.signatures,
        public_key=outputs.public_key,
        public_key_fingerprint=outputs.public_key_fingerprint,
        signing_algorithm=outputs.signing_algorithm,
        manifest=outputs.manifest,
        provenance=outputs.provenance,
        sboms=outputs.sboms,
        bundle=outputs.bundle,
        sealed_by=sealed_by,
        sealed_at=at,
    )


def _precondition(state: CandidateState, versions: Versions, if_match: Tags | None) -> None:
    """412 when `if_match` names another version of an existing candidate (an unknown one is
    the decision's 404). Staging records no refusals: nothing of the candidate changed."""
    if state.exists and is_stale(if_match, versions.model):
        raise PreconditionFailed(versions.model)


def _raise(refusal: decide.Refusal | None) -> None:
    if refusal is not None:
        raise StagingRefused(refusal)


async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    for _ in range(ATTEMPTS - 1):
        try:
            return await attempt()
        except ConcurrencyError:
            continue
    return await attempt()


async def _read_all(body: AsyncIterable[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in body:
        size += len(chunk)
        if size > limit:
            raise StagingRefused(
                decide.Refusal(
                    decide.RefusalKind.INVALID, f"body: an SBOM is at most {limit} bytes", "body"
                )
            )
        parts.append(chunk)
    return b"".join(parts)
