"""`lts release upload`, `seal` and `verify`: staging from CI's side, and offline checks."""

from __future__ import annotations

import functools
import mimetypes
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lts_release.staging.digests import CHUNK, sha256_of_file
from lts_release.staging.verify import VerificationFailed, verify_archive, verify_directory

DEFAULT_URL = "http://127.0.0.1:8003"
TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)

Url = Annotated[str, typer.Option(envvar="LTS_RELEASE_URL", help="The release service.")]
Token = Annotated[
    str, typer.Option(envvar="LTS_TOKEN", help="Bearer token (release_manager or automation).")
]


def register(app: typer.Typer) -> None:
    app.command()(upload)
    app.command()(seal)
    app.command()(verify)


def upload(
    candidate: Annotated[str, typer.Argument(help="Candidate id.")],
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    sbom_for: Annotated[
        str | None, typer.Option(help="The files are CycloneDX SBOMs CI made for this artifact.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = "",
) -> None:
    """Upload artifacts to a candidate, each with its SHA-256 declared (a mismatch is refused
    and nothing is stored), with a progress bar per file."""
    with _client(url, token) as client, _progress() as progress:
        for path in files:
            digest, size = sha256_of_file(path)
            task = progress.add_task(path.name, total=size)
            response = client.post(
                f"/candidates/{candidate}/artifacts",
                params={"name": path.name, "sha256": digest}
                | ({"sbom_for": sbom_for} if sbom_for else {}),
                headers={"Content-Type": _media_type(path)},
                content=_read_with_progress(path, functools.partial(progress.advance, task)),
            )
            _raise_for_problem(response, path.name)
            progress.console.print(f"{path.name}  sha256:{digest}  stored", soft_wrap=True)


def seal(
    candidate: Annotated[str, typer.Argument(help="Candidate id.")],
    url: Url = DEFAULT_URL,
    token: Token = "",
) -> None:
    """Seal a candidate: SHA256SUMS, signatures, manifest, provenance, SBOMs, bundle."""
    with _client(url, token) as client:
        response = client.post(f"/candidates/{candidate}/seal")
        _raise_for_problem(response, candidate)
        typer.echo(response.text)


def verify(
    bundle: Annotated[str, typer.Argument(help="A bundle .tar.gz, its unpacked folder, or URL.")],
    key: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Trusted public key (PEM).")
    ] = None,
    fingerprint: Annotated[
        str | None, typer.Option(help="Expected key fingerprint, sha256:<hex>.")
    ] = None,
    token: Token = "",
) -> None:
    """Check a bundle offline: signatures, checksums, the manifest's digests, the provenance,
    an SBOM per artifact. Exits 1 naming the first problem."""
    trusted = key.read_bytes() if key is not None else None
    with tempfile.TemporaryDirectory(prefix="lts-verify-") as work:
        try:
            if Path(bundle).is_dir():
                verified = verify_directory(
                    Path(bundle), trusted_key=trusted, fingerprint=fingerprint
                )
            else:
                archive = (
                    _download(bundle, Path(work) / "bundle.tar.gz", token)
                    if bundle.startswith(("http://", "https://"))
                    else Path(bundle)
                )
                unpacked = Path(work) / "unpacked"
                unpacked.mkdir()
                verified = verify_archive(
                    archive, unpacked, trusted_key=trusted, fingerprint=fingerprint
                )
        except VerificationFailed as failure:
            typer.echo(f"FAILED {failure}", err=True)
            raise typer.Exit(1) from None
    typer.echo(
        f"OK release {verified.version}: {len(verified.artifacts)} artifacts,"
        f" {verified.files_checked} files checked, signed by {verified.fingerprint}"
    )
    if key is None and fingerprint is None:
        typer.echo(
            "note: checked against the bundle's own release.pub; pass --key or --fingerprint"
            " to check who signed it"
        )


def _client(url: str, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )


def _read_with_progress(path: Path, advance: Callable[[int], object]) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            advance(len(chunk))
            yield chunk


def _media_type(path: Path) -> str:
    if path.name.endswith(".whl"):
        return "application/zip"
    guessed, encoding = mimetypes.guess_type(path.name)
    if encoding == "gzip":
        return "application/gzip"
    return guessed or "application/octet-stream"


def _raise_for_problem(response: httpx.Response, subject: str) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    typer.echo(f"FAILED {subject}: {response.status_code} {detail}", err=True)
    raise typer.Exit(1)


def _download(url: str, target: Path, token: str) -> Path:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.stream(
        "GET", url, headers=headers, timeout=TIMEOUT, follow_redirects=True
    ) as response:
        if not response.is_success:
            raise VerificationFailed(url, f"download failed: HTTP {response.status_code}")
        with target.open("wb") as out, _progress() as progress:
            task = progress.add_task(url.rsplit("/", 1)[-1], total=_length(response))
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                progress.advance(task, len(chunk))
    return target


def _length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    return int(value) if value and value.isdigit() else None
