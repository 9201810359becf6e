"""The three renderings of a document from its Markdown: HTML through markdown-it-py
(CommonMark, raw HTML disabled so a ticket title cannot inject markup), and plain text from
the same token stream (mail bodies, chat fallbacks)."""

from __future__ import annotations

from lts_events.contracts.comms.documents import Renderings
from markdown_it import MarkdownIt
from markdown_it.token import Token

_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def renderings(markdown: str) -> Renderings:
    return Renderings(markdown=markdown, html=_MARKDOWN.render(markdown), text=plain_text(markdown))


def plain_text(markdown: str) -> str:
    blocks: list[str] = []
    bullet = ""
    quote = False
    for token in _MARKDOWN.parse(markdown):
        match token.type:
            case "list_item_open":
                bullet = "- "
            case "blockquote_open":
                quote = True
            case "blockquote_close":
                quote = False
            case "heading_open":
                bullet = ""
            case "inline":
                prefix = "| " if quote else ""
                text = _inline_text(token).replace("\n", "\n" + prefix)
                blocks.append(prefix + bullet + text)
                bullet = ""
            case "fence" | "code_block":
                blocks.append(
                    "\n".join("    " + line for line in token.content.rstrip().split("\n"))
                )
    return _joined(blocks)


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    href: str | None = None
    for child in token.children or []:
        match child.type:
            case "text" | "code_inline":
                parts.append(child.content)
            case "softbreak" | "hardbreak":
                parts.append("\n")
            case "link_open":
                href = str(child.attrs.get("href", ""))
            case "link_close":
                if href and href not in "".join(parts):  # a bare URL is not repeated
                    parts.append(f" <{href}>")
                href = None
    return "".join(parts)


def _joined(blocks: list[str]) -> str:
    out: list[str] = []
    for block in blocks:
        is_item = block.startswith("- ") or block.startswith("| - ")
        if out and not (is_item and (out[-1].startswith("- ") or out[-1].startswith("| - "))):
            out.append("")
        out.append(block)
    return "\n".join(out).strip() + "\n"
