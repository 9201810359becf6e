"""Git metadata for new tickets, when a repository is configured: the commit of the reported
version's tag and the recent commits touching the files of the traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from lts_events.contracts.intake import GitCommit, GitMetadata

from lts_intake import enrich
from lts_intake.handlers import GitLookup
from lts_intake.model import OpenTicket

log = logging.getLogger(__name__)

_FIELD, _RECORD = "\x1f", "\x1e"
LOG_FORMAT = f"{_RECORD}%H{_FIELD}%s{_FIELD}%an{_FIELD}%aI"


def parse_log(output: str) -> list[GitCommit]:
    """`git log --name-only --format=<LOG_FORMAT>` output as commits with their files."""
    commits: list[GitCommit] = []
    for record in output.split(_RECORD):
        if not record.strip():
            continue
        header, _, rest = record.partition("\n")
        sha, summary, author, date = [*header.split(_FIELD), "", "", "", ""][:4]
        files = [line.strip() for line in rest.splitlines() if line.strip()]
        committed = datetime.fromisoformat(date) if date else None
        commits.append(
            GitCommit(
                sha=sha, summary=summary, author=author or None, committed_at=committed, files=files
            )
        )
    return commits


def tracked_paths_for(frame_files: Sequence[str], tracked: Sequence[str]) -> list[str]:
    """Repository paths that the traceback's absolute paths end with."""
    found: list[str] = []
    for path in frame_files:
        normalized = path.replace("\\", "/")
        for candidate in tracked:
            if normalized.endswith("/" + candidate) or normalized == candidate:
                found.append(candidate)
                break
    return list(dict.fromkeys(found))


def tag_candidates(versions: Sequence[str]) -> list[str]:
    tags: list[str] = []
    for version in versions:
        cleaned = version.strip().lstrip("vV")
        if cleaned and cleaned[0].isdigit() and all(c.isdigit() or c == "." for c in cleaned):
            tags += [f"v{cleaned}", f"v{cleaned}-lts", cleaned]
    return tags


async def _git(repo: Path, *args: str) -> str | None:
    process = await asyncio.create_subprocess_exec(
        "git",
        "-C",
        str(repo),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=5)
    except TimeoutError:
        process.kill()
        return None
    return out.decode(errors="replace") if process.returncode == 0 else None


def git_lookup(repo: Path | None) -> GitLookup:
    async def none(command: OpenTicket) -> GitMetadata | None:
        return None

    if repo is None:
        return none

    async def lookup(command: OpenTicket) -> GitMetadata | None:
        draft = command.draft
        tag, tag_commit = None, None
        for candidate in tag_candidates(draft.affected_versions):
            sha = await _git(repo, "rev-list", "-n", "1", candidate)
            if sha:
                tag, tag_commit = candidate, sha.strip()
                break
        summary = enrich.parse_traceback(draft.traceback)
        commits: list[GitCommit] = []
        if summary is not None:
            tracked = (await _git(repo, "ls-files") or "").splitlines()
            paths = tracked_paths_for([f.file for f in summary.frames], tracked)
            if paths:
                output = await _git(
                    repo, "log", "-n", "10", "--name-only", f"--format={LOG_FORMAT}", "--", *paths
                )
                commits = parse_log(output or "")
        if tag is None and not commits:
            return None
        return GitMetadata(
            repository=str(repo), version_tag=tag, tag_commit=tag_commit, recent_commits=commits
        )

    return lookup
