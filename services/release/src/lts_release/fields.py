"""How the release service names a field of its input in errors: a dotted path."""

from __future__ import annotations

from collections.abc import Sequence


def dotted(path: Sequence[str | int]) -> str:
    """`("runs", 0, "results")` -> `runs[0].results`; `("query", "commit")` -> `query.commit`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"
