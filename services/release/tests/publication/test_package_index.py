"""The package index channel against the real local pypiserver: what it uploads pip downloads
with the same SHA-256; a second publish sends nothing; a different file under a published name,
refused credentials and an unreachable index are told apart."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from lts_devtools.infra.local_pypi import PackageIndex
from lts_devtools.infra.net import free_port
from lts_events.contracts.release.publication import FileKind
from lts_release.channels.base import (
    ChannelError,
    SealedRelease,
    TransientChannelError,
    Withdrawing,
)
from lts_release.channels.package_index import IndexConfig, PackageIndexChannel, simple_url_for
from lts_release.channels.retry import RetryPolicy

pytestmark = pytest.mark.integration


def channel_for(
    index: PackageIndex, sent: list[str] | None = None, **changes: Any
) -> PackageIndexChannel:
    config = IndexConfig(
        upload_url=index.url,
        simple_url=simple_url_for(index.url),
        username=index.username,
        password=index.password,
        retry=RetryPolicy(attempts=2, first_pause_seconds=0.0),
    )
    for key, value in changes.items():
        config = IndexConfig(**{**config.__dict__, key: value})

    async def note(request: httpx.Request) -> None:
        if sent is not None and request.method == "POST":
            sent.append(str(request.url))

    return PackageIndexChannel(
        config, client=lambda: httpx.AsyncClient(timeout=30, event_hooks={"request": [note]})
    )


def release_of(version: str, *files: Any) -> SealedRelease:
    return SealedRelease(
        candidate_id=f"{version}rc1",
        version=version,
        line=version.rsplit(".", 1)[0],
        tag=f"v{version}",
        files=tuple(files),
    )


def pip_download(simple_url: str, requirement: str, into: Path) -> Path:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            simple_url,
            requirement,
            "-d",
            str(into),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [downloaded] = into.iterdir()
    return downloaded


async def test_a_published_wheel_is_what_pip_downloads(
    package_index: PackageIndex, builds: Any, source: Any, project: str, tmp_path: Path
) -> None:
    wheel = source.add(builds.wheel(project, "1.4.3"))
    sdist = source.add(builds.sdist(project, "1.4.3"))
    (builds.directory / "SHA256SUMS").write_text(f"{wheel.sha256}  {wheel.name}\n")
    sums = source.add(builds.directory / "SHA256SUMS", FileKind.CHECKSUMS)
    sent: list[str] = []

    published = await channel_for(package_index, sent).publish(
        release_of("1.4.3", wheel, sdist, sums), source
    )
    downloaded = pip_download(
        simple_url_for(package_index.url), f"{project}==1.4.3", tmp_path / "pip"
    )

    assert [(f.name, f.sent) for f in published.files] == [(wheel.name, True), (sdist.name, True)]
    assert len(sent) == 2
    assert downloaded.name == wheel.name
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == wheel.sha256
    by_name = {f.name: f for f in published.files}
    async with httpx.AsyncClient(timeout=30) as client:
        fetched = await client.get(by_name[wheel.name].url)
    assert hashlib.sha256(fetched.content).hexdigest() == wheel.sha256


async def test_publishing_again_sends_nothing_and_answers_the_same_urls(
    package_index: PackageIndex, builds: Any, source: Any, project: str
) -> None:
    release = release_of("2.0.1", source.add(builds.wheel(project, "2.0.1")))
    first = await channel_for(package_index).publish(release, source)
    sent: list[str] = []

    again = await channel_for(package_index, sent).publish(release, source)

    assert sent == []
    assert [f.sent for f in again.files] == [False]
    assert [f.url for f in again.files] == [f.url for f in first.files]


async def test_an_index_answering_duplicate_counts_as_published_when_the_bytes_match(
    package_index: PackageIndex, builds: Any, source: Any, project: str
) -> None:
    # The listing is read before the upload; a file that appears in between (another replica's
    # publish) is answered 409 by pypiserver, which must read as published, not as an error.
    release = release_of("2.0.2", source.add(builds.wheel(project, "2.0.2")))
    await channel_for(package_index).publish(release, source)
    channel = channel_for(package_index)
    dist_file = release.files[0]

    async with httpx.AsyncClient(timeout=30) as client:
        from lts_release.channels.dists import describe

        duplicate = await channel._upload(client, describe(dist_file.name), dist_file, source)

    assert duplicate is True


async def test_other_bytes_under_a_published_file_name_are_refused(
    package_index: PackageIndex, builds: Any, source: Any, project: str, tmp_path: Path
) -> None:
    await channel_for(package_index).publish(
        release_of("3.1.4", source.add(builds.wheel(project, "3.1.4"))), source
    )
    (tmp_path / "other").mkdir()
    from shutil import move

    changed = builds.wheel(project, "3.1.4", payload="CHANGED = True\n")
    moved = Path(move(str(changed), tmp_path / "other" / changed.name))

    with pytest.raises(ChannelError) as refused:
        await channel_for(package_index).publish(release_of("3.1.4", source.add(moved)), source)

    assert not isinstance(refused.value, TransientChannelError)
    assert refused.value.status_code == 409
    assert "never changes" in str(refused.value)


async def test_refused_credentials_are_not_retried_as_transient(
    package_index: PackageIndex, builds: Any, source: Any, project: str
) -> None:
    channel = channel_for(package_index, password="wrong-password")

    with pytest.raises(ChannelError) as refused:
        await channel.publish(
            release_of("0.9.1", source.add(builds.wheel(project, "0.9.1"))), source
        )

    assert not isinstance(refused.value, TransientChannelError)
    assert refused.value.status_code == 403


async def test_an_unreachable_index_is_a_transient_error(
    builds: Any, source: Any, project: str
) -> None:
    nowhere = PackageIndex(f"http://127.0.0.1:{free_port()}/", "user", "password")

    with pytest.raises(TransientChannelError):
        await channel_for(nowhere).publish(
            release_of("0.9.2", source.add(builds.wheel(project, "0.9.2"))), source
        )


async def test_an_index_cannot_yank_so_a_withdrawal_is_marked_unsafe(
    package_index: PackageIndex,
) -> None:
    channel = channel_for(package_index)

    withdrawn = await channel.withdraw(Withdrawing("1.4.3rc1", "1.4.3", "1.4", "rolled back"))

    assert channel.capabilities.yank is False
    assert withdrawn.outcome == "marked_unsafe"
