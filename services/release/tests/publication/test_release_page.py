"""The release page channel on a real directory: every file of the release lands there with its
digest, both pages link to what exists, a second publish writes nothing, a yank marks the
pages and keeps the files, and nothing outside the directory is ever served."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from lts_events.contracts.release.publication import FileKind
from lts_release.channels.base import ChannelError, SealedRelease, Withdrawing
from lts_release.channels.release_page import ReleasePageChannel

BASE = "http://releases.example/releases/"


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links_of(path: Path) -> list[str]:
    parser = Links()
    parser.feed(path.read_text())
    return parser.hrefs


def local_path(directory: Path, url: str) -> Path:
    """Where the channel's directory holds what a URL under BASE names."""
    relative = unquote(urlsplit(url).path)[len(urlsplit(BASE).path) :]
    path = directory / relative
    return path / "index.html" if url.endswith("/") else path


@pytest.fixture
def release(builds: Any, source: Any) -> SealedRelease:
    wheel = source.add(builds.wheel("lts-demo", "1.4.3"))
    sums = builds.directory / "SHA256SUMS"
    sums.write_text(f"{wheel.sha256}  {wheel.name}\n")
    signature = builds.directory / "SHA256SUMS.sig"
    signature.write_bytes(b"MEUCIQ...")
    bundle = builds.directory / "lts-demo-1.4.3-bundle.tar.gz"
    bundle.write_bytes(b"bundle bytes")
    return SealedRelease(
        candidate_id="1.4.3rc1",
        version="1.4.3",
        line="1.4",
        tag="v1.4.3",
        files=(
            wheel,
            source.add(sums, FileKind.CHECKSUMS),
            source.add(signature, FileKind.SIGNATURE),
            source.add(bundle, FileKind.BUNDLE),
        ),
        ticket_ids=(4711,),
        cve_ids=("CVE-2026-1234",),
    )


async def test_every_file_is_published_with_its_digest_and_the_pages_link_to_them(
    tmp_path: Path, release: SealedRelease, source: Any
) -> None:
    directory = tmp_path / "pages"
    channel = ReleasePageChannel(directory, BASE)

    published = await channel.publish(release, source)

    assert published.page_url == f"{BASE}1.4.3/"
    assert [f.name for f in published.files] == [f.name for f in release.files]
    for file in published.files:
        assert (
            hashlib.sha256(local_path(directory, file.url).read_bytes()).hexdigest() == file.sha256
        )
    page = local_path(directory, published.page_url)
    linked = {urljoin(published.page_url, href) for href in links_of(page)}
    assert {f.url for f in published.files} <= linked
    assert all(local_path(directory, url).is_file() for url in linked)
    assert "CVE-2026-1234" in page.read_text()
    assert [urljoin(BASE, href) for href in links_of(directory / "index.html")] == [
        published.page_url
    ]


async def test_publishing_again_writes_nothing(
    tmp_path: Path, release: SealedRelease, source: Any
) -> None:
    channel = ReleasePageChannel(tmp_path / "pages", BASE)
    first = await channel.publish(release, source)
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "pages").rglob("*") if p.is_file()}

    again = await channel.publish(release, source)

    assert [f.sent for f in first.files] == [True] * 4
    assert [f.sent for f in again.files] == [False] * 4
    assert {p: p.stat().st_mtime_ns for p in written} == written


async def test_other_bytes_under_a_published_name_are_refused(
    tmp_path: Path, release: SealedRelease, source: Any, builds: Any
) -> None:
    channel = ReleasePageChannel(tmp_path / "pages", BASE)
    await channel.publish(release, source)
    other = tmp_path / "other" / "SHA256SUMS"
    other.parent.mkdir()
    other.write_text("changed\n")
    changed = SealedRelease(
        **{**release.__dict__, "files": (source.add(other, FileKind.CHECKSUMS),)}
    )

    with pytest.raises(ChannelError, match="never changes"):
        await channel.publish(changed, source)


async def test_a_yank_marks_both_pages_and_keeps_the_files(
    tmp_path: Path, release: SealedRelease, source: Any
) -> None:
    directory = tmp_path / "pages"
    channel = ReleasePageChannel(directory, BASE)
    published = await channel.publish(release, source)

    withdrawn = await channel.withdraw(
        Withdrawing("1.4.3rc1", "1.4.3", "1.4", "error rate 4% in the 10% phase")
    )

    assert withdrawn.outcome == "yanked"
    assert channel.capabilities.yank
    assert "yanked: error rate 4% in the 10% phase" in (directory / "index.html").read_text()
    assert "This version was yanked" in (directory / "1.4.3" / "index.html").read_text()
    assert all(local_path(directory, f.url).is_file() for f in published.files)


async def test_a_republish_after_a_yank_keeps_the_yank(
    tmp_path: Path, release: SealedRelease, source: Any
) -> None:
    channel = ReleasePageChannel(tmp_path / "pages", BASE)
    await channel.publish(release, source)
    await channel.withdraw(Withdrawing("1.4.3rc1", "1.4.3", "1.4", "bad"))

    await channel.publish(release, source)

    assert "This version was yanked" in (tmp_path / "pages" / "1.4.3" / "index.html").read_text()


@pytest.mark.parametrize(
    ("version", "name"),
    [
        ("..", "releases.json"),
        ("1.4.3", "../releases.json"),
        ("1.4.3", ".lock"),
        ("/etc", "passwd"),
    ],
)
async def test_nothing_outside_a_version_directory_is_served(
    tmp_path: Path, release: SealedRelease, source: Any, version: str, name: str
) -> None:
    channel = ReleasePageChannel(tmp_path / "pages", BASE)
    await channel.publish(release, source)

    assert channel.served_file(version, name) is None
    assert channel.served_file("1.4.3", "SHA256SUMS") is not None
