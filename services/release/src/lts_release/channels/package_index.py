"""A PyPI-compatible package index, over the legacy upload API exactly as twine sends it: a
`multipart/form-data` POST with Basic auth to the repository URL (pypiserver: its root; PyPI:
`https://upload.pypi.org/legacy/`; devpi: `/<user>/<index>/`; Artifactory:
`/api/pypi/<repo>`), fields `:action=file_upload`, `protocol_version=1`, `name`, `version`,
`filetype`, `pyversion`, `metadata_version`, `sha256_digest` and the file as `content`.

Before sending a file the project's simple index page (PEP 503) is read: a file listed with
the same SHA-256 is already published (a retry, or an earlier publish) and is not sent again;
the same name with other bytes is refused (an index never replaces a file). A duplicate
answer to an upload (pypiserver 409, PyPI 400 "File already exists") is checked the same way.
Only wheels and sdists go to an index; other artifacts are for the release page.

Yanking: PEP 592 yanks are made in PyPI's web interface only, and pypiserver, devpi and
Artifactory have no yank either (pypiserver's `remove_pkg` deletes, which breaks pinned
installs), so `withdraw` answers `marked_unsafe`: recorded on our side."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from lts_events.contracts.release.publication import ChannelFile, FileKind

from lts_release.channels.base import (
    Capabilities,
    ChannelError,
    FileSource,
    Published,
    ReleaseFile,
    SealedRelease,
    TransientChannelError,
    Withdrawing,
    Withdrawn,
)
from lts_release.channels.dists import (
    Distribution,
    NotADistribution,
    UnreadableMetadata,
    core_metadata,
    describe,
)
from lts_release.channels.retry import RetryPolicy, retried
from lts_release.channels.simple_index import IndexedFile, project_files

NAME = "pypi"
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class IndexConfig:
    upload_url: str
    """The repository URL uploads are POSTed to (twine's `--repository-url`)."""
    simple_url: str
    """The PEP 503 simple index (`<simple_url><project>/`), read to find published files."""
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def simple_url_for(upload_url: str, simple_url: str | None = None) -> str:
    """The simple index of an upload URL: `simple_url` when given (PyPI:
    `https://pypi.org/simple/`, devpi: `/<user>/<index>/+simple/`), else `<upload_url>simple/`
    (pypiserver, Artifactory). Always ends with a slash."""
    chosen = simple_url or upload_url.rstrip("/") + "/simple/"
    return chosen if chosen.endswith("/") else chosen + "/"


class PackageIndexChannel:
    def __init__(
        self,
        config: IndexConfig,
        *,
        client: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.config = config
        self._client = client or (lambda: httpx.AsyncClient(timeout=config.timeout_seconds))

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(hosts=frozenset({FileKind.ARTIFACT}), yank=False)

    def hosts(self, file: ReleaseFile) -> bool:
        if file.kind is not FileKind.ARTIFACT:
            return False
        try:
            describe(file.name)
        except NotADistribution:
            return False
        return True

    async def publish(self, release: SealedRelease, source: FileSource) -> Published:
        published: list[ChannelFile] = []
        async with self._client() as client:
            for file in release.files:
                if self.hosts(file):
                    send = functools.partial(self._publish_file, client, file, source)
                    published.append(await retried(send, self.config.retry))
        return Published(NAME, tuple(published))

    async def withdraw(self, withdrawing: Withdrawing) -> Withdrawn:
        return Withdrawn(NAME, "marked_unsafe")

    async def _publish_file(
        self, client: httpx.AsyncClient, file: ReleaseFile, source: FileSource
    ) -> ChannelFile:
        dist = describe(file.name)
        already = await self._held(client, dist, file)
        if already is not None:
            return ChannelFile(name=file.name, sha256=file.sha256, url=already.url, sent=False)
        duplicate = await self._upload(client, dist, file, source)
        listed = await self._held(client, dist, file)
        if duplicate and listed is None:
            raise ChannelError(
                f"the index holds {file.name} already but does not list it with sha256 "
                f"{file.sha256}",
                file=file.name,
            )
        url = listed.url if listed is not None else self._project_page(dist)
        return ChannelFile(name=file.name, sha256=file.sha256, url=url, sent=not duplicate)

    def _project_page(self, dist: Distribution) -> str:
        return f"{self.config.simple_url}{dist.name}/"

    async def _held(
        self, client: httpx.AsyncClient, dist: Distribution, file: ReleaseFile
    ) -> IndexedFile | None:
        """The file as the index lists it with our digest, None when it is not listed; a
        listing with another digest is a conflict no retry solves."""
        page_url = self._project_page(dist)
        try:
            response = await client.get(page_url, headers={"Accept": "text/html"})
        except httpx.TransportError as error:
            raise TransientChannelError(f"index unreachable: {error!r}") from error
        if response.status_code == 404:
            return None
        _raise_for(response, file=file.name, doing="reading the simple index")
        listed = project_files(response.text, page_url=str(response.url)).get(file.name)
        if listed is None:
            return None
        if listed.sha256 is not None and listed.sha256 != file.sha256:
            raise ChannelError(
                f"the index holds another {file.name} (sha256 {listed.sha256}, ours "
                f"{file.sha256}); a published file never changes",
                file=file.name,
                status_code=409,
            )
        return listed

    async def _upload(
        self, client: httpx.AsyncClient, dist: Distribution, file: ReleaseFile, source: FileSource
    ) -> bool:
        """Send the file; True when the index answered that it already holds it."""
        config = self.config
        auth = (
            httpx.BasicAuth(config.username, config.password or "")
            if config.username
            else httpx.USE_CLIENT_DEFAULT
        )
        with source.open(file.sha256) as content:
            try:
                metadata = core_metadata(dist, content)
            except UnreadableMetadata as error:
                raise ChannelError(str(error), file=file.name) from error
            form = {
                ":action": "file_upload",
                "protocol_version": "1",
                "name": metadata.name,
                "version": metadata.version,
                "filetype": dist.filetype,
                "pyversion": dist.pyversion,
                "metadata_version": metadata.metadata_version,
                "sha256_digest": file.sha256,
            }
            files = {"content": (file.name, content, "application/octet-stream")}
            try:
                response = await client.post(config.upload_url, data=form, files=files, auth=auth)
            except httpx.TransportError as error:
                await self._refused_credentials(client, auth, file=file.name)
                raise TransientChannelError(f"upload of {file.name} failed: {error!r}") from error
        if response.status_code == 409 or (
            response.status_code == 400 and "already exist" in response.text.lower()
        ):
            return True
        _raise_for(response, file=file.name, doing="uploading")
        return False

    async def _refused_credentials(
        self, client: httpx.AsyncClient, auth: Any, *, file: str
    ) -> None:
        """Tell refused credentials from a broken connection: an index that refuses the user
        answers before reading the upload and closes the connection with the file unread,
        which the client sees as a reset, not as the 401/403 it was sent. An empty POST
        leaves nothing unread, so the refusal arrives; any other answer is not ours to read
        (pypiserver and PyPI answer 400 to a form without `:action`)."""
        try:
            probe = await client.post(self.config.upload_url, content=b"", auth=auth)
        except httpx.TransportError:
            return
        if probe.status_code in {401, 403}:
            _raise_for(probe, file=file, doing="uploading")


def _raise_for(response: httpx.Response, *, file: str, doing: str) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = f"{doing} {file}: the index answered {status} {response.reason_phrase}"
    excerpt = response.text.strip()[:300]
    if excerpt:
        detail += f": {excerpt}"
    if status in RETRIED_STATUSES:
        raise TransientChannelError(detail, file=file, status_code=status)
    if status in {401, 403}:
        detail += " (check LTS_RELEASE_PYPI_USERNAME / LTS_RELEASE_PYPI_PASSWORD)"
    raise ChannelError(detail, file=file, status_code=status)
