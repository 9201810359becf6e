"""Reading a PEP 503 simple index page: the files of one project, each with its absolute URL
and, when the index gives it (`#sha256=...`), its digest. Pure: text in, links out."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit


@dataclass(frozen=True)
class IndexedFile:
    filename: str
    url: str
    """Absolute, without the fragment."""
    sha256: str | None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def project_files(page: str, *, page_url: str) -> dict[str, IndexedFile]:
    """The files a project page links to, by file name (the last path segment of the link)."""
    parser = _Links()
    parser.feed(page)
    found: dict[str, IndexedFile] = {}
    for href in parser.hrefs:
        url, fragment = urldefrag(urljoin(page_url, href))
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if not filename:
            continue
        algorithm, _, digest = fragment.partition("=")
        found[filename] = IndexedFile(
            filename, url, digest.lower() if algorithm == "sha256" and digest else None
        )
    return found
