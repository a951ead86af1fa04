"""A small, safe Markdown subset for descriptions (models, versions): escaped first, then formatted.

Everything the user wrote is HTML-escaped before any formatting is applied, so raw HTML in a
description shows as text; links keep only ``http``, ``https`` and ``mailto`` targets (and paths on
this site). Supported: paragraphs, ``#`` headings, ``-``/``*``/``1.`` lists, fenced code blocks,
``code``, **bold**, *italic* and ``[text](url)`` links.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

_HEADING = re.compile(r"(#{1,6})\s+(.*)")
_BULLET = re.compile(r"[-*+]\s+(.*)")
_NUMBERED = re.compile(r"\d{1,9}[.)]\s+(.*)")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)|(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?!\w)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SAFE_URL = re.compile(r"(?:https?://|mailto:|/(?!/)|#)", re.IGNORECASE)


def _link(match: re.Match[str]) -> str:
    text, url = match.group(1), html.unescape(match.group(2))
    if not _SAFE_URL.match(url):
        return match.group(0)
    rel = ' rel="nofollow noopener"' if "://" in url else ""
    return f'<a href="{html.escape(url, quote=True)}"{rel}>{text}</a>'


def _inline(text: str) -> str:
    """Format one escaped line: code spans are kept apart from the other rules."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{part}</code>")
            continue
        part = _LINK.sub(_link, part)
        part = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", part)
        part = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", part)
        out.append(part)
    return "".join(out)


def render_markdown(source: str | None) -> Markup:
    """HTML for ``source`` (safe to put in a page as it is)."""
    lines = html.escape(source or "", quote=True).replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            blocks.append("<p>" + "<br>".join(_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()
        if items:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append("<pre><code>" + "\n".join(code) + "</code></pre>")
        elif not stripped:
            flush()
        elif m := _HEADING.fullmatch(stripped):
            flush()
            level = min(len(m.group(1)) + 2, 6)  # a description sits under the page's own headings
            blocks.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif m := _BULLET.fullmatch(stripped) or _NUMBERED.fullmatch(stripped):
            tag = "ul" if m.re is _BULLET else "ol"
            if paragraph or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append(m.group(1))
        else:
            if items:
                flush()
            paragraph.append(stripped)
        i += 1
    flush()
    return Markup("\n".join(blocks))
