"""Splits converted pages by structure: headings first, then paragraphs, then size; never mid-sentence."""

import re
from dataclasses import dataclass

from assist.text import sentences

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
MAX_WORDS = 180
OVERLAP_SENTENCES = 1


@dataclass
class Chunk:
    """One passage with where it came from."""

    text: str
    page: int | None
    section: str


def _words(text: str) -> int:
    return len(text.split())


def _split_long(block: str, max_words: int) -> list[str]:
    """A block too long for one chunk, cut between sentences with one sentence of overlap."""
    parts: list[str] = []
    current: list[str] = []
    for sent in sentences(block) or [block]:
        if current and _words(" ".join([*current, sent])) > max_words:
            parts.append(" ".join(current))
            current = current[-OVERLAP_SENTENCES:]
        current.append(sent)
    if current:
        parts.append(" ".join(current))
    return parts


def _is_table(block: str) -> bool:
    lines = block.splitlines()
    return len(lines) > 1 and all(ln.lstrip().startswith("|") for ln in lines)


def _split_table(block: str, max_words: int) -> list[str]:
    """A long Markdown table cut between rows; every part repeats the header so it stays readable alone."""
    lines = block.splitlines()
    has_rule = len(lines) > 1 and set(lines[1].replace(" ", "")) <= set("|-:")
    head = lines[:2] if has_rule else lines[:1]
    parts: list[str] = []
    rows: list[str] = []
    for row in lines[len(head):]:
        if rows and _words("\n".join([*head, *rows, row])) > max_words:
            parts.append("\n".join([*head, *rows]))
            rows = []
        rows.append(row)
    if rows or not parts:
        parts.append("\n".join([*head, *rows]))
    return parts


def split_pages(pages: list[tuple[str, int | None]], max_words: int = MAX_WORDS) -> list[Chunk]:
    """Chunks from (text, page) pairs; a heading closes the current chunk and opens a new section."""
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []
    buf: list[str] = []
    buf_page: int | None = None

    def section() -> str:
        return " > ".join(title for _, title in path)

    def flush() -> None:
        nonlocal buf
        text = "\n\n".join(buf).strip()
        if text:
            chunks.append(Chunk(text=text, page=buf_page, section=section()))
        buf = []

    for text, page in pages:
        if buf and page != buf_page:
            flush()
        buf_page = page
        for raw in re.split(r"\n\s*\n", text):
            block = raw.strip()
            if not block:
                continue
            m = _HEADING.match(block.splitlines()[0])
            if m:
                flush()
                level, title = len(m.group(1)), m.group(2).strip()
                path[:] = [(lv, t) for lv, t in path if lv < level] + [(level, title)]
                block = "\n".join(block.splitlines()[1:]).strip()
                if not block:
                    continue
            if _words(block) > max_words:
                flush()
                for part in (_split_table if _is_table(block) else _split_long)(block, max_words):
                    buf = [part]
                    flush()
                continue
            if buf and _words("\n\n".join([*buf, block])) > max_words:
                flush()
            buf.append(block)
    flush()
    return chunks
