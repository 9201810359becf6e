"""The release page's HTML: an index of every version by line, and one page per version with
its files, digests and how to verify them. Pure: entries in, HTML text out (escaped)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from lts_events.contracts.release.publication import FileKind
from packaging.version import InvalidVersion, Version

KIND_ORDER = tuple(FileKind)
KIND_LABELS = {
    FileKind.ARTIFACT: "Artifacts",
    FileKind.BUNDLE: "Offline bundle",
    FileKind.CHECKSUMS: "Checksums",
    FileKind.SIGNATURE: "Signatures",
    FileKind.PUBLIC_KEY: "Public key",
    FileKind.MANIFEST: "Build manifest",
    FileKind.PROVENANCE: "Provenance (DSSE, in-toto, SLSA)",
    FileKind.SBOM: "SBOMs (CycloneDX)",
}


@dataclass(frozen=True)
class PageFile:
    name: str
    kind: FileKind
    sha256: str
    size: int


@dataclass(frozen=True)
class PageEntry:
    """One version as the page shows it; `withdrawn_reason` set once it was yanked."""

    version: str
    line: str
    tag: str
    candidate_id: str
    files: tuple[PageFile, ...]
    ticket_ids: tuple[int, ...] = ()
    cve_ids: tuple[str, ...] = ()
    withdrawn_reason: str | None = None


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem;"
    "border-bottom:1px solid #ddd}code{font-size:.85em;word-break:break-all}"
    ".yanked{background:#fdd;padding:.5rem;border:1px solid #c00}"
)


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )


def _order(version: str) -> tuple[int, Version, str]:
    """Versions by PEP 440 order; anything unparseable before them, by text."""
    try:
        return (1, Version(version), "")
    except InvalidVersion:
        return (0, Version("0"), version)


def render_index(entries: Iterable[PageEntry]) -> str:
    """Every line, newest version first; withdrawn versions stay listed, marked."""
    by_line: dict[str, list[PageEntry]] = {}
    for entry in entries:
        by_line.setdefault(entry.line, []).append(entry)
    parts = ["<h1>Releases</h1>\n"]
    for line in sorted(by_line, key=_order, reverse=True):
        parts.append(f"<h2>Line {escape(line)}</h2>\n<ul>\n")
        for entry in sorted(by_line[line], key=lambda e: _order(e.version), reverse=True):
            link = f'<a href="{quote(entry.version)}/">{escape(entry.version)}</a>'
            status = (
                f' <strong class="yanked">yanked: {escape(entry.withdrawn_reason)}</strong>'
                if entry.withdrawn_reason is not None
                else ""
            )
            parts.append(f"<li>{link}{status}</li>\n")
        parts.append("</ul>\n")
    return _document("Releases", "".join(parts))


def render_version(entry: PageEntry) -> str:
    """One version: its files by kind with SHA-256 and size, tickets, CVEs, how to verify."""
    parts = [f"<h1>{escape(entry.version)}</h1>\n"]
    if entry.withdrawn_reason is not None:
        parts.append(
            f'<p class="yanked">This version was yanked: {escape(entry.withdrawn_reason)}. '
            "Do not install it; use the line's current safe version.</p>\n"
        )
    parts.append(
        f"<p>Line {escape(entry.line)}, tag <code>{escape(entry.tag)}</code>, "
        f"candidate <code>{escape(entry.candidate_id)}</code>.</p>\n"
    )
    if entry.ticket_ids or entry.cve_ids:
        tickets = ", ".join(f"#{ticket}" for ticket in entry.ticket_ids) or "none"
        cves = ", ".join(escape(cve) for cve in entry.cve_ids) or "none"
        parts.append(f"<p>Tickets: {tickets}. CVEs fixed: {cves}.</p>\n")
    for kind in KIND_ORDER:
        files = [file for file in entry.files if file.kind is kind]
        if files:
            parts.append(_file_table(KIND_LABELS[kind], files))
    parts.append(
        "<h2>Verify</h2>\n<pre>sha256sum --check SHA256SUMS\n"
        "lts release verify &lt;the offline bundle&gt;</pre>\n"
        '<p><a href="../">All releases</a></p>\n'
    )
    return _document(f"Release {entry.version}", "".join(parts))


def _file_table(label: str, files: Sequence[PageFile]) -> str:
    rows = "".join(
        f'<tr><td><a href="{quote(file.name)}">{escape(file.name)}</a></td>'
        f"<td>{file.size}</td><td><code>{file.sha256}</code></td></tr>\n"
        for file in files
    )
    return (
        f"<h2>{escape(label)}</h2>\n<table>\n"
        "<tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr>\n"
        f"{rows}</table>\n"
    )
