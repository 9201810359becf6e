"""`SHA256SUMS` exactly as `sha256sum` writes it and `sha256sum --check` reads it:
`<64 lowercase hex><space><space><name>\\n` per file, sorted by name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


class ChecksumsProblem(ValueError):
    pass


def render(digests: Mapping[str, str]) -> bytes:
    """`digests`: path (relative, no backslash or newline: names.py's rule) -> hex SHA-256."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode()


def parse(content: bytes) -> dict[str, str]:
    """Path -> hex digest; a malformed or repeated line is a problem (stricter than
    `sha256sum --check`, which only warns)."""
    entries: dict[str, str] = {}
    for number, line in enumerate(_lines(content), start=1):
        match = _LINE.fullmatch(line)
        if match is None:
            raise ChecksumsProblem(f"line {number} is not '<sha256 hex>  <name>': {line[:80]!r}")
        digest, name = match.groups()
        if name in entries:
            raise ChecksumsProblem(f"line {number} lists {name!r} a second time")
        entries[name] = digest
    return entries


def _lines(content: bytes) -> Iterable[str]:
    try:
        text = content.decode()
    except UnicodeDecodeError:
        raise ChecksumsProblem("not UTF-8 text") from None
    if text and not text.endswith("\n"):
        raise ChecksumsProblem("the last line has no newline")
    return text.splitlines()
