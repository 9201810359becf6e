"""POST /candidates/{id}/publish on the running release service (real Kafka, PostgreSQL and the
local pypiserver): a candidate staged and sealed through the staging routes is published once;
pip downloads the wheel from the index with the sealed digest; the release page lists the
version and every link on it answers the bytes of the sealed digest; publishing again sends
nothing and records nothing; the next version names it as the previous safe version; a
withdrawal yanks the page and marks the index unsafe."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from lts_devtools.infra.local_pypi import PackageIndex
from lts_events.actors import Actor, Role
from lts_events.contracts.release.candidates import (
    Bump,
    CandidateListed,
    CandidateOpened,
    IncludedBackport,
    candidate_stream,
    line_stream,
)
from lts_events.contracts.release.publication import (
    ChannelPublished,
    PublicationRefused,
    PublicationRule,
    ReleaseMarkedUnsafe,
    ReleasePublished,
    ReleaseYanked,
)
from lts_events.contracts.triage import RolloutStrategy
from lts_events.store.port import NO_STREAM
from lts_release.appending import Outcome, append
from lts_release.channels.package_index import simple_url_for

from ..integration.conftest import Running, eventually

pytestmark = pytest.mark.integration

MANAGER = {"Authorization": "Bearer dev-release_manager"}
SRE = {"Authorization": "Bearer dev-sre"}
QA = {"Authorization": "Bearer dev-qa"}


@pytest.fixture
def publishing_env(
    package_index: PackageIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    monkeypatch.setenv("LTS_RELEASE_PYPI_URL", package_index.url)
    monkeypatch.setenv("LTS_RELEASE_PYPI_USERNAME", package_index.username or "")
    monkeypatch.setenv("LTS_RELEASE_PYPI_PASSWORD", package_index.password or "")
    monkeypatch.setenv("LTS_RELEASE_PUB_PAGE_DIR", str(tmp_path / "pages"))
    monkeypatch.setenv("LTS_RELEASE_STAGE_DATA_DIR", str(tmp_path / "stage"))
    return tmp_path / "pages"


@pytest.fixture
def publishing(publishing_env: Path, release_service: Running) -> Running:
    return release_service


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links(html: str, base: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return [urljoin(base, href) for href in parser.hrefs]


async def open_candidate(
    service: Running, line: str, version: str, tickets: tuple[int, ...]
) -> str:
    candidate_id = f"{version}rc1"
    opened = CandidateOpened(
        candidate_id=candidate_id,
        line=line,
        version=version,
        rc=1,
        tag=f"v{candidate_id}",
        final_tag=f"v{version}",
        previous_version=None,
        bump=Bump.PATCH,
        backports=tuple(
            IncludedBackport(
                ticket_id=ticket,
                cve_ids=(f"CVE-2026-{ticket % 10000:04d}",),
                patch_branch=f"backport/{ticket}-{line}",
                commit="b" * 40,
                rollout_strategy=RolloutStrategy.STAGED_CANARY,
                emergency=False,
                fast_tracked=False,
            )
            for ticket in tickets
        ),
        rollout_strategy=RolloutStrategy.STAGED_CANARY,
        emergency=False,
        opened_by="rm",
        opened_at=datetime.now(UTC),
    )
    await append(
        service.store,
        candidate_stream(candidate_id),
        [Outcome(opened, Actor(id="rm", role=Role.RELEASE_MANAGER))],
        version=NO_STREAM,
    )
    return candidate_id


async def stage_and_seal(service: Running, candidate_id: str, *files: Path) -> None:
    for path in files:
        data = path.read_bytes()
        uploaded = await service.client.post(
            f"/candidates/{candidate_id}/artifacts",
            params={"name": path.name, "sha256": hashlib.sha256(data).hexdigest()},
            content=data,
            headers={**MANAGER, "Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201, uploaded.text
    sealed = await service.client.post(f"/candidates/{candidate_id}/seal", headers=MANAGER)
    assert sealed.status_code == 201, sealed.text


async def events_of(service: Running, candidate_id: str, kind: type[Any]) -> list[Any]:
    history = await service.store.read_stream(candidate_stream(candidate_id))
    return [r.event for r in history.events if isinstance(r.event, kind)]


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


@pytest.mark.timeout(240)
async def test_a_sealed_candidate_is_published_once_to_the_index_and_the_page(
    publishing: Running,
    package_index: PackageIndex,
    builds: Any,
    project: str,
    unique: str,
    tmp_path: Path,
) -> None:
    line = f"7.{int(unique[:5], 16)}"
    tickets = (random.randint(10**7, 2 * 10**9), random.randint(10**7, 2 * 10**9))
    candidate_id = await open_candidate(publishing, line, f"{line}.1", tickets)
    wheel = builds.wheel(project, f"{line}.1")
    await stage_and_seal(publishing, candidate_id, wheel, builds.sdist(project, f"{line}.1"))
    client = publishing.client

    first = await client.post(f"/candidates/{candidate_id}/publish", headers=MANAGER)
    again = await client.post(f"/candidates/{candidate_id}/publish", headers=MANAGER)

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    published = first.json()
    assert published["ticket_ids"] == list(tickets)
    assert published["channels"] == ["pypi", "release-page"]
    assert len(await events_of(publishing, candidate_id, ReleasePublished)) == 1
    assert len(await events_of(publishing, candidate_id, ChannelPublished)) == 2
    wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    [entry] = [a for a in published["artifacts"] if a["name"] == wheel.name]
    assert entry["sha256"] == wheel_sha
    assert set(entry["urls"]) == {"pypi", "release-page"}

    downloaded = pip_download(
        simple_url_for(package_index.url), f"{project}=={line}.1", tmp_path / "pip"
    )
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == wheel_sha

    index = await client.get("/releases/")
    assert index.status_code == 200
    assert published["release_page_url"] in links(index.text, str(index.url))
    page = await client.get(published["release_page_url"])
    assert page.status_code == 200
    digests = {a["name"]: a["sha256"] for a in published["artifacts"]}
    for artifact in published["artifacts"]:
        url = artifact["urls"]["release-page"]
        assert url in links(page.text, str(page.url))
        fetched = await client.get(url)
        assert fetched.status_code == 200, url
        assert hashlib.sha256(fetched.content).hexdigest() == digests[artifact["name"]]
    async with httpx.AsyncClient(timeout=30) as outside:
        from_index = await outside.get(entry["urls"]["pypi"])
    assert hashlib.sha256(from_index.content).hexdigest() == wheel_sha


@pytest.mark.timeout(240)
async def test_the_next_version_names_the_last_safe_one_and_a_withdrawal_marks_both_channels(
    publishing: Running, builds: Any, project: str, unique: str
) -> None:
    line = f"6.{int(unique[:5], 16)}"
    client = publishing.client
    first = await open_candidate(publishing, line, f"{line}.1", (11,))
    await stage_and_seal(publishing, first, builds.wheel(project, f"{line}.1"))
    assert (await client.post(f"/candidates/{first}/publish", headers=MANAGER)).status_code == 201
    second = await open_candidate(publishing, line, f"{line}.2", (12,))
    await stage_and_seal(publishing, second, builds.wheel(project, f"{line}.2"))

    async def both_listed() -> bool | None:
        history = await publishing.store.read_stream(line_stream(line))
        listed = {
            r.event.candidate_id for r in history.events if isinstance(r.event, CandidateListed)
        }
        return True if {first, second} <= listed else None

    await eventually(both_listed)
    published = await client.post(f"/candidates/{second}/publish", headers=MANAGER)
    withdrawn = await client.post(
        f"/candidates/{second}/withdraw", json={"reason": "error rate 4% at 10%"}, headers=SRE
    )
    page = await client.get(published.json()["release_page_url"])
    refused = await client.post(f"/candidates/{second}/publish", headers=MANAGER)

    assert published.json()["previous_safe_version"] == f"{line}.1"
    assert withdrawn.status_code == 200, withdrawn.text
    assert sorted(map(tuple, (w.values() for w in withdrawn.json()))) == [
        ("pypi", "marked_unsafe"),
        ("release-page", "yanked"),
    ]
    [yanked] = await events_of(publishing, second, ReleaseYanked)
    [unsafe] = await events_of(publishing, second, ReleaseMarkedUnsafe)
    assert (yanked.channel, unsafe.channels, unsafe.ticket_ids) == (
        "release-page",
        ("pypi",),
        (12,),
    )
    assert "This version was yanked: error rate 4% at 10%" in page.text
    assert refused.status_code == 409
    assert PublicationRule.WITHDRAWN.value in refused.text


@pytest.mark.timeout(240)
async def test_a_lines_first_release_here_names_its_release_from_before_as_the_safe_one(
    publishing: Running, builds: Any, project: str
) -> None:
    """So that its canary has a version to roll back to: the release service's fixture says
    line 1.4 last released 1.4.2 before the service (LTS_RELEASE_CORE_RELEASED_VERSIONS, the
    baseline the candidates' version policy counts from too)."""
    first = await open_candidate(publishing, "1.4", "1.4.3", (21,))
    await stage_and_seal(publishing, first, builds.wheel(project, "1.4.3"))

    published = await publishing.client.post(f"/candidates/{first}/publish", headers=MANAGER)

    assert published.status_code == 201, published.text
    assert published.json()["previous_safe_version"] == "1.4.2"


async def test_only_a_release_manager_publishes_and_only_what_is_sealed(
    publishing: Running, unique: str
) -> None:
    line = f"5.{int(unique[:5], 16)}"
    candidate_id = await open_candidate(publishing, line, f"{line}.1", (13,))

    by_qa = await publishing.client.post(f"/candidates/{candidate_id}/publish", headers=QA)
    unsealed = await publishing.client.post(f"/candidates/{candidate_id}/publish", headers=MANAGER)
    unknown = await publishing.client.post("/candidates/0.0.0rc9/publish", headers=MANAGER)

    assert by_qa.status_code == 403
    assert unsealed.status_code == 409
    assert PublicationRule.NOT_SEALED.value in unsealed.text
    assert unknown.status_code == 404
    refusals = await events_of(publishing, candidate_id, PublicationRefused)
    assert [r.rule for r in refusals] == [PublicationRule.ROLE, PublicationRule.NOT_SEALED]
    assert await events_of(publishing, candidate_id, ReleasePublished) == []


@pytest.mark.timeout(240)
async def test_a_stale_if_match_publishes_and_withdraws_nothing_and_is_recorded(
    publishing: Running, package_index: PackageIndex, builds: Any, project: str, unique: str
) -> None:
    line = f"8.{int(unique[:5], 16)}"
    candidate_id = await open_candidate(publishing, line, f"{line}.1", (16,))
    await stage_and_seal(publishing, candidate_id, builds.wheel(project, f"{line}.1"))
    client = publishing.client
    sealed = (await client.get(f"/candidates/{candidate_id}", headers=MANAGER)).headers["ETag"]
    before_seal = f'"{int(sealed.strip(chr(34))) - 1}"'
    on_index = f"{simple_url_for(package_index.url)}{project}/"

    stale_publish = await client.post(
        f"/candidates/{candidate_id}/publish", headers=MANAGER | {"If-Match": before_seal}
    )
    async with httpx.AsyncClient(timeout=30) as outside:
        index_after_stale = await outside.get(on_index)
    published_after_stale = await events_of(publishing, candidate_id, ChannelPublished)
    published = await client.post(
        f"/candidates/{candidate_id}/publish", headers=MANAGER | {"If-Match": sealed}
    )
    current = (await client.get(f"/candidates/{candidate_id}", headers=MANAGER)).headers["ETag"]
    stale_withdraw = await client.post(
        f"/candidates/{candidate_id}/withdraw",
        json={"reason": "canary failed"},
        headers=SRE | {"If-Match": sealed},
    )
    withdrawn_after_stale = await events_of(publishing, candidate_id, ReleaseYanked)
    withdrawn = await client.post(
        f"/candidates/{candidate_id}/withdraw",
        json={"reason": "canary failed"},
        headers=SRE | {"If-Match": current},
    )

    assert (stale_publish.status_code, stale_publish.headers.get("ETag")) == (412, sealed)
    assert stale_publish.headers["content-type"] == "application/problem+json"
    assert stale_publish.json()["etag"] == sealed
    assert index_after_stale.status_code == 404  # nothing uploaded to the package index
    assert published_after_stale == []
    assert published.status_code == 201, published.text  # the refusal did not move the ETag
    assert (stale_withdraw.status_code, stale_withdraw.headers.get("ETag")) == (412, current)
    assert withdrawn_after_stale == []
    assert withdrawn.status_code == 200, withdrawn.text
    refusals = await events_of(publishing, candidate_id, PublicationRefused)
    assert [(r.action, r.rule) for r in refusals] == [
        ("publish", PublicationRule.PRECONDITION_FAILED),
        ("withdraw", PublicationRule.PRECONDITION_FAILED),
    ]


@pytest.mark.timeout(240)
async def test_a_rollback_withdraws_the_version_from_every_channel_once(
    publishing: Running, builds: Any, project: str, unique: str
) -> None:
    from lts_events.clock import system_clock
    from lts_release.config import Settings
    from lts_release.publication.bootstrap import build_publication
    from lts_release.publication.rollback import PublicationRollback
    from lts_release.staging.store import FilesystemBlobStore

    line = f"4.{int(unique[:5], 16)}"
    candidate_id = await open_candidate(publishing, line, f"{line}.1", (14,))
    await stage_and_seal(publishing, candidate_id, builds.wheel(project, f"{line}.1"))
    published = await publishing.client.post(f"/candidates/{candidate_id}/publish", headers=MANAGER)
    assert published.status_code == 201, published.text
    settings = Settings()
    blobs = FilesystemBlobStore(settings.stage_dir() / "blobs")
    rollback = PublicationRollback(
        build_publication(settings, publishing.store, blobs, system_clock)
    )

    async def listed() -> bool | None:
        history = await publishing.store.read_stream(line_stream(line))
        return True if any(isinstance(r.event, CandidateListed) for r in history.events) else None

    await eventually(listed)
    first = await rollback.roll_back(
        candidate_id=None,
        line=line,
        from_version=f"{line}.1",
        to_version=f"{line}.0",
        reason="p95 320 ms",
    )
    again = await rollback.roll_back(
        candidate_id=candidate_id,
        line=line,
        from_version=f"{line}.1",
        to_version=f"{line}.0",
        reason="p95 320 ms",
    )

    assert first == again == ("pypi", "release-page")
    assert len(await events_of(publishing, candidate_id, ReleaseYanked)) == 1
    assert len(await events_of(publishing, candidate_id, ReleaseMarkedUnsafe)) == 1


@pytest.mark.timeout(240)
async def test_an_index_holding_other_bytes_under_the_name_fails_the_publication_for_good(
    publishing: Running,
    package_index: PackageIndex,
    builds: Any,
    source: Any,
    project: str,
    unique: str,
    tmp_path: Path,
) -> None:
    from shutil import move

    from lts_events.contracts.release.publication import PublicationFailed
    from lts_release.channels.base import SealedRelease
    from lts_release.channels.package_index import IndexConfig, PackageIndexChannel

    line = f"3.{int(unique[:5], 16)}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    squatted = Path(move(builds.wheel(project, f"{line}.1", payload="X = 1\n"), elsewhere))
    squatter = PackageIndexChannel(
        IndexConfig(
            upload_url=package_index.url,
            simple_url=simple_url_for(package_index.url),
            username=package_index.username,
            password=package_index.password,
        )
    )
    await squatter.publish(
        SealedRelease("x", f"{line}.1", line, "v", (source.add(squatted),)), source
    )
    candidate_id = await open_candidate(publishing, line, f"{line}.1", (15,))
    await stage_and_seal(publishing, candidate_id, builds.wheel(project, f"{line}.1"))

    refused = await publishing.client.post(f"/candidates/{candidate_id}/publish", headers=MANAGER)

    assert refused.status_code == 502, refused.text
    assert "pypi" in refused.text
    [failed] = await events_of(publishing, candidate_id, PublicationFailed)
    assert (failed.channel, failed.status_code) == ("pypi", 409)
    assert await events_of(publishing, candidate_id, ReleasePublished) == []
    assert await events_of(publishing, candidate_id, ChannelPublished) == []


@pytest.fixture
def unreachable_index_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lts_devtools.infra.net import free_port

    monkeypatch.setenv("LTS_RELEASE_PYPI_URL", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.setenv("LTS_RELEASE_PUB_RETRY_ATTEMPTS", "1")
    monkeypatch.setenv("LTS_RELEASE_PUB_PAGE_DIR", str(tmp_path / "pages"))
    monkeypatch.setenv("LTS_RELEASE_STAGE_DATA_DIR", str(tmp_path / "stage"))


@pytest.mark.timeout(240)
async def test_an_unreachable_index_answers_503_and_records_nothing(
    unreachable_index_env: None, release_service: Running, builds: Any, project: str, unique: str
) -> None:
    line = f"2.{int(unique[:5], 16)}"
    candidate_id = await open_candidate(release_service, line, f"{line}.1", (16,))
    await stage_and_seal(release_service, candidate_id, builds.wheel(project, f"{line}.1"))

    answer = await release_service.client.post(
        f"/candidates/{candidate_id}/publish", headers=MANAGER
    )

    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    history = await release_service.store.read_stream(candidate_stream(candidate_id))
    assert [r.event.type for r in history.events if "publi" in r.event.type] == []
