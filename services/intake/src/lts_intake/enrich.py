"""Pure enrichment parsers: tracebacks, environment and package lists, possible regressions. No
I/O here. (Versions onto LTS lines: `lts_events.support`, the matrix shared with triage.)"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from lts_events.contracts.intake import ReleaseRef, StackFrame, TracebackSummary

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>.+))?$')
_EXCEPTION = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|\w*))"
    r"(?::\s?(?P<message>.*))?$"
)
_LIBRARY_DIRS = ("site-packages/", "dist-packages/")
_STDLIB = re.compile(r"/(?:lib|Lib)/python\d+(?:\.\d+)?/")
_PYTHON_IN_TEXT = re.compile(r"\b(?:python|cpython|py)\s*v?(\d+\.\d+(?:\.\d+)?)", re.IGNORECASE)
_PYTHON_IN_PATH = re.compile(r"python(\d+\.\d+)")
_PIN = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(?:==|===|\s+)\s*v?([0-9][\w.+!-]*)\s*$"
)
_KEY_VALUE = re.compile(r"^\s*[-*]?\s*([A-Za-z][\w .()/-]{0,60}?)\s*[:=]\s*(.+?)\s*$")


# --- tracebacks ------------------------------------------------------------------------------


def parse_traceback(
    text: str | None, *, project_modules: Sequence[str] = ()
) -> TracebackSummary | None:
    """The last exception of a Python traceback (chained ones included): type, message, frames
    and the innermost frame that belongs to the project, not to the stdlib or a library."""
    if not text or "Traceback (most recent call last)" not in text:
        return None
    block = text[text.rfind("Traceback (most recent call last)") :]
    lines = block.splitlines()[1:]
    frames: list[StackFrame] = []
    exception_type, message = "", ""
    for index, line in enumerate(lines):
        frame = _FRAME.match(line)
        if frame:
            frames.append(
                _frame(frame, code=_code_line(lines, index), project_modules=project_modules)
            )
            continue
        if line.startswith((" ", "\t")) or not line.strip():
            continue
        match = _EXCEPTION.match(line.strip())
        if match:
            exception_type, message = match["type"], (match["message"] or "").strip()
            break
    if not exception_type:
        return None
    return TracebackSummary(
        exception_type=exception_type,
        exception_message=message,
        frames=frames,
        top_project_module=_top_project_module(frames, project_modules),
    )


def _frame(match: re.Match[str], *, code: str | None, project_modules: Sequence[str]) -> StackFrame:
    path = match["file"]
    return StackFrame(
        file=path,
        line=int(match["line"]),
        function=(match["function"] or "").strip() or None,
        module=module_of(path, project_modules),
        code=code,
    )


def _code_line(lines: list[str], index: int) -> str | None:
    if index + 1 < len(lines):
        following = lines[index + 1]
        if following.startswith("    ") and not _FRAME.match(following):
            return following.strip() or None
    return None


def module_of(path: str, project_modules: Sequence[str] = ()) -> str | None:
    """`.../site-packages/pkg/mod.py` -> `pkg.mod`; `/app/src/proj/api.py` -> `proj.api`; with
    project modules, the path from the first segment naming one (`/ci/proj/a.py` -> `proj.a`)."""
    normalized = path.replace("\\", "/")
    if not normalized.endswith(".py"):
        return None
    segments = normalized[:-3].split("/")
    for index, segment in enumerate(segments):
        if segment in project_modules and not is_library_path(normalized):
            return _dotted(segments[index:])
    for marker in (*_LIBRARY_DIRS, "/src/"):
        if marker in normalized:
            normalized = normalized.rsplit(marker, 1)[1]
            break
    else:
        stdlib = _STDLIB.search(normalized)
        normalized = normalized[stdlib.end() :] if stdlib else normalized.lstrip("./")
    return _dotted(normalized[:-3].split("/"))


def _dotted(parts: list[str]) -> str | None:
    parts = [p for p in parts if p]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or None


def is_library_path(path: str) -> bool:
    normalized = path.replace("\\", "/")
    return (
        any(d in normalized for d in _LIBRARY_DIRS)
        or bool(_STDLIB.search(normalized))
        or (normalized.startswith("<"))
    )


def _top_project_module(frames: Sequence[StackFrame], project_modules: Sequence[str]) -> str | None:
    for frame in reversed(frames):
        if frame.module is None:
            continue
        if project_modules:
            if frame.module.split(".")[0] in project_modules:
                return frame.module
        elif not is_library_path(frame.file):
            return frame.module
    return None


# --- environment and packages ----------------------------------------------------------------


def parse_environment(text: str | None) -> dict[str, str]:
    """`key: value` / `key=value` lines (an issue template's environment section)."""
    found: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = _KEY_VALUE.match(line)
        if match and not line.strip().startswith(("http://", "https://")):
            found[match[1].strip().lower()] = match[2]
    return found


def parse_package_versions(text: str | None) -> dict[str, str]:
    """`pip freeze` (`name==1.2`) or `pip list` (`name    1.2`) lines."""
    found: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = _PIN.match(line)
        if match and match[1].lower() not in {"package", "python"}:
            found[match[1].lower()] = match[2]
    return found


def python_version_from(*texts: str | None) -> str | None:
    for text in texts:
        if not text:
            continue
        match = _PYTHON_IN_TEXT.search(text)
        if match:
            return match[1]
    for text in texts:
        match = _PYTHON_IN_PATH.search(text or "")
        if match:
            return match[1]
    return None


# --- regressions -----------------------------------------------------------------------------


def possible_regressions(
    started_at: datetime, releases: Iterable[ReleaseRef], *, window: timedelta
) -> list[ReleaseRef]:
    """Releases published within `window` before the alert started, newest first."""
    recent = [r for r in releases if started_at - window <= r.released_at <= started_at]
    return sorted(recent, key=lambda r: r.released_at, reverse=True)
