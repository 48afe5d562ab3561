"""Converts source files (PDF, DOCX, HTML, Markdown, plain text) into page-level texts with the document's metadata.

Every converter raises `ConversionError` with a message a knowledge owner can act on; nothing else escapes
`convert()`, so one bad file never stops a folder.
"""

import errno
import hashlib
import io
import logging
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import frontmatter

logger = logging.getLogger(__name__)

MARKDOWN = {".md", ".markdown"}
TEXT = {".txt", ".text"}
HTML = {".html", ".htm"}
SUPPORTED = MARKDOWN | TEXT | HTML | {".pdf", ".docx"}
DEFAULT_MAX_FILE_MB = 100.0


class ConversionError(Exception):
    """A file could not be read; the message says why, for the ingest report."""


@dataclass
class Page:
    """Text of one page (or the whole text for unpaged formats)."""

    text: str
    number: int | None = None


@dataclass
class SourceDocument:
    """A converted file: its pages, metadata, and notes worth a line in the report."""

    doc_id: str
    title: str
    pages: list[Page]
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@contextmanager
def open_checked(path: Path, ident: tuple[int, int] | None = None) -> Iterator[io.BufferedReader]:
    """Open a file for reading without following a link at its name.

    `ident` is the (st_dev, st_ino) that the folder walk saw: a file swapped for another one (or a folder above it
    swapped for a link) since then is refused rather than read, so nothing outside the walked folder is opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            msg = "symbolic link: not followed (a link can point outside the folder); copy the file in instead"
            raise ConversionError(msg) from exc
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            msg = "not a regular file (device, pipe or socket)"
            raise ConversionError(msg)
        if ident is not None and (st.st_dev, st.st_ino) != ident:
            msg = "file was replaced while the folder was being ingested: run the ingest again"
            raise ConversionError(msg)
        yield f


def read_file(path: Path, ident: tuple[int, int] | None = None) -> bytes:
    """The file's bytes, opened as `open_checked` does."""
    with open_checked(path, ident) as f:
        return f.read()


def file_hash(path: Path, ident: tuple[int, int] | None = None) -> str:
    """sha256 of the file's bytes, read in blocks (a large file is streamed, never loaded whole)."""
    h = hashlib.sha256()
    with open_checked(path, ident) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _iso(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value).strip() if value is not None else ""


def _version(value: Any) -> int:
    try:
        return int(str(value).strip() or 1)
    except ValueError:
        return 1


def _meta(  # noqa: PLR0917 - one positional per metadata field reads best at the call sites
    owner: Any = "", valid_from: Any = "", review_date: Any = "", language: Any = "", version: Any = 1,
    replaces: Any = "",
) -> dict[str, Any]:
    return {
        "owner": _iso(owner),
        "valid_from": _iso(valid_from),
        "review_date": _iso(review_date),
        "language": _iso(language).lower()[:2],
        "doc_version": _version(version),
        "replaces": _iso(replaces),
    }


# --- metadata beside a file -------------------------------------------------------------------------------------

#: A routine's metadata kept beside it (`rutin.docx.meta.toml`), written by the owners' upload page: it lets an owner
#: set validity, replacement and review date for any format (a PDF's or a Word file's own fields are awkward to
#: edit), and it wins over the file's own fields. Its bytes count in the file's hash, so a change re-ingests.
SIDECAR = ".meta.toml"
SIDECAR_KEYS = ("title", "owner", "valid_from", "review_date", "replaces", "language")


def is_sidecar(path: Path) -> bool:
    """True for a metadata file kept beside a routine (not a routine itself)."""
    return path.name.lower().endswith(SIDECAR) and len(path.name) > len(SIDECAR)


def sidecar_of(path: Path) -> Path:
    """Where the metadata of the routine `path` is kept."""
    return path.with_name(path.name + SIDECAR)


def parse_sidecar(data: bytes) -> dict[str, str]:
    """The fields of a metadata file (TOML); ConversionError names what is wrong."""
    import tomllib  # noqa: PLC0415

    try:
        fields = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"its metadata file ({SIDECAR}) is not valid TOML ({exc}): fix or delete it"
        raise ConversionError(msg) from None
    unknown = sorted(set(fields) - set(SIDECAR_KEYS))
    if unknown:
        msg = f"its metadata file ({SIDECAR}) has unknown keys {unknown}: use {', '.join(SIDECAR_KEYS)}"
        raise ConversionError(msg)
    return {k: _iso(v) for k, v in fields.items()}


def apply_sidecar(src: "SourceDocument", fields: dict[str, str]) -> None:
    """Put the metadata file's fields over the converted document's own."""
    for key, value in fields.items():
        if key == "title":
            if value:
                src.title = value
        elif key == "language":
            src.meta["language"] = value.lower()[:2]
        else:
            src.meta[key] = value


# --- text and encodings -----------------------------------------------------------------------------------------

def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a text file in any common encoding; binary data raises ConversionError."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        msg = "not text: binary data in a text file (wrong extension?)"
        raise ConversionError(msg)
    western = _western(data)
    if western is not None:
        return western, "cp1252"
    from charset_normalizer import from_bytes  # noqa: PLC0415

    best = from_bytes(data[: 1 << 20]).best()
    if best is None or best.encoding is None:
        msg = "unknown text encoding: save the file as UTF-8 and ingest again"
        raise ConversionError(msg)
    try:
        return data.decode(best.encoding), best.encoding
    except (UnicodeDecodeError, LookupError) as exc:
        msg = f"text encoding looks like {best.encoding} but does not decode: save the file as UTF-8"
        raise ConversionError(msg) from exc


_WESTERN_LETTERS = set("åäöÅÄÖéèêëÉÈüÜæøÆØáàâíìîóòôúùûñçßÿœŒ€–—’‘“”„…°§«»½")


def _western(data: bytes) -> str | None:
    """cp1252 text when its non-ASCII characters are the Nordic and Western letters routines use.

    Statistical detectors often misname short Swedish text as a Cyrillic or Central European code page; the
    legacy Windows encoding of Swedish, Finnish and English files is cp1252 (a superset of latin-1).
    """
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    high = [ch for ch in text if ord(ch) > 127]
    if high and sum(ch in _WESTERN_LETTERS for ch in high) >= 0.9 * len(high):
        return text
    return None


def _printable_share(text: str) -> float:
    sample = text[:5000]
    if not sample:
        return 1.0
    ok = sum(1 for ch in sample if ch.isprintable() or ch in "\n\r\t")
    return ok / len(sample)


def _read_text(data: bytes) -> tuple[str, list[str]]:
    text, encoding = decode_text(data)
    notes = [] if encoding.startswith("utf-8") else [f"decoded as {encoding}"]
    if _printable_share(text) < 0.9:
        msg = "not readable text (control characters: wrong encoding or a binary file)"
        raise ConversionError(msg)
    return text.replace("\r\n", "\n").replace("\r", "\n"), notes


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _require_text(text: str) -> None:
    if not text.strip():
        msg = "empty file: no text to ingest"
        raise ConversionError(msg)


def convert_markdown(path: Path, data: bytes) -> SourceDocument:
    """Markdown with optional YAML front matter (title, owner, valid_from, review_date, language, version)."""
    text, notes = _read_text(data)
    try:
        post = frontmatter.loads(text)
    except Exception as exc:
        msg = f"front matter could not be parsed ({type(exc).__name__}): fix the YAML between the --- lines"
        raise ConversionError(msg) from exc
    fm = post.metadata
    _require_text(post.content)
    title = str(fm.get("title") or _first_heading(post.content) or path.stem)
    meta = _meta(
        fm.get("owner", ""), fm.get("valid_from"), fm.get("review_date"), fm.get("language", ""),
        fm.get("version", 1), fm.get("replaces", ""),
    )
    return SourceDocument(doc_id=path.stem, title=title, pages=[Page(post.content)], meta=meta, notes=notes)


def convert_text(path: Path, data: bytes) -> SourceDocument:
    """Plain text in any common encoding; the first line is the title."""
    text, notes = _read_text(data)
    _require_text(text)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), path.stem)
    return SourceDocument(doc_id=path.stem, title=first[:120], pages=[Page(text)], meta=_meta(), notes=notes)


# --- HTML ---------------------------------------------------------------------------------------------------------

_META_TAG = re.compile(r"<meta\s+[^>]*>", re.I)
_ATTR = re.compile(r"""(\w[\w-]*)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z-]+)", re.I)


def _html_meta(html: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in _META_TAG.findall(html[:200_000]):
        attrs = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(tag)}
        name = (attrs.get("name") or attrs.get("property") or "").lower()
        if name and "content" in attrs:
            out[name] = attrs["content"]
    return out


def convert_html(path: Path, data: bytes) -> SourceDocument:
    """An exported web page: main content only (trafilatura, as Haystack's HTMLToDocument), navigation dropped."""
    import html as html_lib  # noqa: PLC0415

    import trafilatura  # noqa: PLC0415

    html, notes = _read_text(data)
    _require_text(html)
    try:
        text = trafilatura.extract(
            html, output_format="markdown", include_tables=True, include_formatting=True, include_links=False,
            include_comments=False, favor_recall=True,
        )
    except Exception as exc:
        msg = f"HTML could not be parsed ({type(exc).__name__}: {str(exc)[:80]})"
        raise ConversionError(msg) from exc
    if not text or not text.strip():
        msg = "no main content found in the HTML page (only navigation or scripts?)"
        raise ConversionError(msg)
    fm = _html_meta(html)
    m = _TITLE.search(html)
    title = fm.get("title") or (html_lib.unescape(m.group(1)).strip() if m else "") or path.stem
    lang = fm.get("language") or ((mm := _LANG.search(html)) and mm.group(1)) or ""
    meta = _meta(
        fm.get("owner") or fm.get("author", ""), fm.get("valid_from"), fm.get("review_date"), lang,
        fm.get("version", 1), fm.get("replaces", ""),
    )
    return SourceDocument(doc_id=path.stem, title=title, pages=[Page(text)], meta=meta, notes=notes)


# --- DOCX ---------------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:heading|rubrik)\s*(\d)$", re.I)


def _docx_blocks(document: Any) -> list[str]:
    """Paragraphs and tables in body order; headings as Markdown headings, tables as Markdown tables."""
    from docx.table import Table  # noqa: PLC0415
    from docx.text.paragraph import Paragraph  # noqa: PLC0415

    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            m = _HEADING_STYLE.match(style)
            if style.lower() == "title":
                blocks.append(f"# {text}")
            elif m:
                blocks.append(f"{'#' * min(int(m.group(1)) + 1, 6)} {text}")
            elif "list" in style.lower() and not re.match(r"^\d+[.)]\s", text):
                blocks.append(f"- {text}")
            else:
                blocks.append(text)
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = [" ".join(c.text.split()).replace("|", "/") for c in row.cells]
                rows.append("| " + " | ".join(cells) + " |")
            if rows:
                width = rows[0].count("|") - 1
                rows.insert(1, "|" + " --- |" * width)
                blocks.append("\n".join(rows))
    return blocks


def convert_docx(path: Path, data: bytes) -> SourceDocument:
    """Word document: headings kept as a heading path, tables as Markdown tables; metadata from core properties."""
    import docx  # noqa: PLC0415

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = _docx_blocks(document)
        props = document.core_properties
    except Exception as exc:
        msg = f"corrupt or unreadable DOCX ({type(exc).__name__}: {str(exc)[:80]})"
        raise ConversionError(msg) from exc
    text = "\n\n".join(blocks)
    _require_text(text)
    # Routines keep validity and version in the comments field as key=value pairs (see scripts/build_knowledge.py).
    extra = dict(kv.split("=", 1) for kv in (props.comments or "").split(";") if "=" in kv)
    valid_from = extra.get("valid_from") or (props.created.date() if props.created else "")
    meta = _meta(
        props.author or "", valid_from, extra.get("review_date", ""), props.language or "",
        extra.get("version") or props.revision or 1, extra.get("replaces", ""),
    )
    title = props.title or _first_heading(text) or path.stem
    return SourceDocument(doc_id=path.stem, title=title, pages=[Page(text)], meta=meta)


# --- PDF ----------------------------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
EDGE_LINES = 3  # lines at the top and at the bottom of a page where headers and footers live


def _norm(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split())).lower()


def strip_headers_footers(pages: list[str]) -> list[str]:
    """Remove lines repeated at the top or bottom of most pages (running titles, "Page 3 of 9")."""
    nonempty = [p for p in pages if p.strip()]
    if len(nonempty) < 2:
        return pages
    counts: Counter[str] = Counter()
    for text in nonempty:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        edge = lines[:EDGE_LINES] + lines[-EDGE_LINES:]
        counts.update({_norm(ln) for ln in edge})
    threshold = max(2, int(0.6 * len(nonempty) + 0.999))
    repeated = {ln for ln, n in counts.items() if n >= threshold}
    if not repeated:
        return pages
    out = []
    for text in pages:
        lines = text.splitlines()
        nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
        edge_rows = set(nonblank[:EDGE_LINES] + nonblank[-EDGE_LINES:])
        out.append("\n".join(ln for i, ln in enumerate(lines) if not (i in edge_rows and _norm(ln) in repeated)))
    # A document whose pages all say the same thing (a one-word label per page) is not all header.
    return out if any(t.strip() for t in out) else pages


def _page_text(page: Any) -> tuple[str, list[tuple[float, str]]]:
    """Text of a page and its (font size, text) runs, to find headings by size; tables become Markdown tables."""
    runs: list[tuple[float, str]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            scale = abs(tm[0]) if tm and tm[0] else 1.0
            runs.append((round(float(size) * scale, 1), text.strip()))

    text = page.extract_text(visitor_text=visit) or ""
    try:
        layout = page.extract_text(extraction_mode="layout") or ""
    except Exception as exc:  # noqa: BLE001 - the plain text is still good without the tables' structure
        logger.debug("no layout text: %s", exc)
        return text, runs
    for table in layout_tables(layout):
        text = _with_table(text, table)
    return text, runs


#: Columns of a printed table are set apart by at least this many spaces in pypdf's layout text.
_CELL = re.compile(r"\S+(?: {1,2}\S+)*")
_COLUMN_SLACK = 2


def layout_tables(layout: str) -> list[list[list[str]]]:
    """Tables in a page's layout text (pypdf's extraction_mode="layout"): rows of cells, the first row the headers.

    A table is a run of lines, without a blank line, whose first line has two or more columns. A line whose first
    column is empty or starts in lower case continues the row above (a cell wrapped over two printed lines).
    """
    tables: list[list[list[str]]] = []
    block: list[list[tuple[int, str]]] = []
    for line in [*layout.splitlines(), ""]:
        cells = [(m.start(), m.group()) for m in _CELL.finditer(line)]
        if cells:
            block.append(cells)
            continue
        table = _block_table(block)
        if table:
            tables.append(table)
        block = []
    return tables


def _block_table(block: list[list[tuple[int, str]]]) -> list[list[str]] | None:
    start = next((i for i, cells in enumerate(block) if len(cells) >= 2), None)  # noqa: PLR2004 - two columns
    if start is None:
        return None
    columns = [pos for pos, _ in block[start]]
    rows: list[list[str]] = []
    for cells in block[start:]:
        placed = [(max(i for i, c in enumerate(columns) if c <= pos + _COLUMN_SLACK or i == 0), text)
                  for pos, text in cells]
        first = next((text for col, text in placed if col == 0), "")
        if rows and (not first or first[0].islower()):
            for col, text in placed:
                rows[-1][col] = f"{rows[-1][col]} {text}".strip()
            continue
        if len(cells) < 2 and rows:  # noqa: PLR2004 - a one-column line after the rows is the text below
            break
        row = [""] * len(columns)
        for col, text in placed:
            row[col] = f"{row[col]} {text}".strip()
        rows.append(row)
    return rows if len(rows) >= 2 else None  # noqa: PLR2004 - headers and one row at least


def _with_table(text: str, table: list[list[str]]) -> str:
    """Replace the table's run-on words in the plain text (read cell by cell, or line by line) with a Markdown
    table; the text is left as it was when the words are not found in either order."""
    tokens = list(re.finditer(r"\S+", text))
    words = [t.group() for t in tokens]
    by_cell = " ".join(c for row in table for c in row if c).split()
    n = len(by_cell)
    for i in range(len(words) - n + 1):
        if words[i : i + n] == by_cell:
            start, end = tokens[i].start(), tokens[i + n - 1].end()
            return f"{text[:start]}\n\n{_markdown_table(table)}\n\n{text[end:]}"
    return text


def _markdown_table(table: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"

    return "\n".join([line(table[0]), "|" + "---|" * len(table[0]), *(line(r) for r in table[1:])])


def _mark_headings(pages: list[str], runs: list[list[tuple[float, str]]]) -> list[str]:
    """Prefix lines set in a larger font than the body text with Markdown heading marks."""
    sizes: Counter[float] = Counter()
    for page_runs in runs:
        for size, text in page_runs:
            sizes[size] += len(text)
    if not sizes:
        return pages
    body = sizes.most_common(1)[0][0]
    bigger = sorted({s for s in sizes if s >= body * 1.15}, reverse=True)
    if not bigger:
        return pages
    out = []
    for text, page_runs in zip(pages, runs, strict=True):
        level_of = {}
        for size, run in page_runs:
            if size in bigger and len(run.split()) <= 14:
                level_of[" ".join(run.split())] = min(bigger.index(size) + 1, 6)
        lines = []
        for ln in text.splitlines():
            key = " ".join(ln.split())
            lines.append(f"\n{'#' * level_of[key]} {key}\n" if key in level_of else ln)
        out.append("\n".join(lines))
    return out


def _reflow(text: str) -> str:
    """pypdf gives one line per printed line: join the lines of a paragraph, keep list items and headings."""
    out: list[str] = []
    for ln in text.splitlines():
        s = ln.strip()
        starts_item = bool(re.match(r"^(?:[-*•\x7f]|\d+[.)])\s", s)) or s.startswith(("#", "|"))
        if not s:
            out.append("")
        elif out and out[-1] and not starts_item and not out[-1].startswith("#") and out[-1][-1] not in ".!?:":
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s.replace("\x7f", "-", 1) if s.startswith("\x7f") else s)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _unlock(reader: Any, notes: list[str]) -> None:
    """Open a PDF encrypted with an empty password; ConversionError for one with a real password."""
    if not reader.is_encrypted:
        return
    try:
        ok = bool(reader.decrypt(""))
    except Exception:  # noqa: BLE001 - any failure to decrypt means the same to the owner
        ok = False
    if not ok:
        msg = "encrypted PDF: remove the password and ingest again"
        raise ConversionError(msg)
    notes.append("encrypted with an empty password")


def _read_pdf(
    path: Path, data: bytes, notes: list[str]
) -> tuple[Any, list[str], list[list[tuple[float, str]]], list[int]]:
    """The PDF's metadata, each page's text and text runs, and the pages that could not be read."""
    from pypdf import PdfReader  # noqa: PLC0415

    reader = PdfReader(io.BytesIO(data))
    _unlock(reader, notes)
    info: Any
    try:
        info = reader.metadata or {}
    except Exception:  # noqa: BLE001 - broken metadata must not lose the text
        info = {}
        notes.append("metadata unreadable")
    texts: list[str] = []
    runs: list[list[tuple[float, str]]] = []
    bad_pages: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text, page_runs = _page_text(page)
        except Exception as exc:  # noqa: BLE001 - one broken page must not lose the others
            logger.debug("page %d of %s unreadable: %s", number, path, exc)
            text, page_runs = "", []
            bad_pages.append(number)
        texts.append(text)
        runs.append(page_runs)
    return info, texts, runs, bad_pages


def convert_pdf(path: Path, data: bytes) -> SourceDocument:
    """PDF text per page (pypdf), page numbers kept, repeated headers and footers removed, headings marked."""
    notes: list[str] = []
    try:
        info, texts, runs, bad_pages = _read_pdf(path, data, notes)
    except ConversionError:
        raise
    except Exception as exc:
        msg = f"corrupt PDF ({type(exc).__name__}: {str(exc)[:80]}): re-export or repair the file"
        raise ConversionError(msg) from exc
    if not texts:
        msg = "corrupt PDF: no pages"
        raise ConversionError(msg)
    if not any(t.strip() for t in texts):
        msg = "scanned: needs OCR (no text layer on any page)"
        raise ConversionError(msg)
    texts = _mark_headings(strip_headers_footers(texts), runs)
    pages = [Page(_reflow(t), i) for i, t in enumerate(texts, start=1)]
    empty = [p.number for p in pages if not p.text.strip() and p.number not in bad_pages]
    if bad_pages:
        notes.append(f"pages {_ranges(bad_pages)} unreadable")
    if empty:
        notes.append(f"pages {_ranges([n for n in empty if n is not None])} have no text (scanned or images)")

    def get(key: str, default: str = "") -> str:
        try:
            value = info.get(key)
        except Exception:  # noqa: BLE001
            value = None
        return str(value) if value is not None else default

    if not any(p.text.strip() for p in pages):
        msg = "scanned: needs OCR (no text layer on any page)"
        raise ConversionError(msg)
    title = _clean(get("/Title")) or _first_heading("\n".join(texts)) or path.stem
    meta = _meta(get("/Author"), get("/ValidFrom"), get("/ReviewDate"), get("/Language"), get("/DocVersion", "1"),
                 get("/Replaces"))
    return SourceDocument(doc_id=path.stem, title=title, pages=pages, meta=meta, notes=notes)


def _clean(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable()).strip()


def _ranges(numbers: list[int]) -> str:
    if len(numbers) > 8:
        return f"{numbers[0]}-{numbers[-1]} ({len(numbers)} pages)"
    return ", ".join(str(n) for n in numbers)


# --- dispatch -----------------------------------------------------------------------------------------------------

def check_readable(path: Path, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> None:
    """Refuse what must not be opened: unsupported types, empty files and files over the size limit."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        msg = f"unsupported file type {suffix or '(no extension)'}: convert it to PDF, DOCX, HTML, Markdown or text"
        raise ConversionError(msg)
    size = path.stat().st_size
    if size == 0:
        msg = "empty file (0 bytes)"
        raise ConversionError(msg)
    if size > max_file_mb * 1024 * 1024:
        msg = (f"too large ({size / 1048576:.0f} MB, limit {max_file_mb:g} MB): split the file or raise "
               "--max-file-mb")
        raise ConversionError(msg)


def convert(
    path: Path, *, detect_language: bool = True, ident: tuple[int, int] | None = None, data: bytes | None = None
) -> SourceDocument:
    """Convert one file by its extension; its bytes are read as `open_checked` does unless `data` is given."""
    suffix = path.suffix.lower()
    converters = {".pdf": convert_pdf, ".docx": convert_docx}
    converters.update(dict.fromkeys(MARKDOWN, convert_markdown))
    converters.update(dict.fromkeys(HTML, convert_html))
    converters.update(dict.fromkeys(TEXT, convert_text))
    if suffix not in converters:
        msg = f"unsupported file type {suffix or '(no extension)'}"
        raise ConversionError(msg)
    src = converters[suffix](path, read_file(path, ident) if data is None else data)
    if not src.meta.get("language") and detect_language:
        src.meta["language"] = guess_language(" ".join(p.text for p in src.pages[:3])[:5000])
    return src


_MARKERS = {
    "sv": {"och", "att", "det", "som", "för", "inte", "med", "till", "är", "på", "du", "av", "ska", "har"},
    "en": {"the", "and", "of", "to", "is", "in", "for", "with", "you", "are", "that", "on", "be", "not"},
    "fi": {"ja", "on", "ei", "että", "se", "ovat", "tai", "kun", "mutta", "myös", "kanssa", "voi"},
    "no": {"og", "ikke", "det", "som", "til", "er", "på", "med", "av", "skal", "har", "jeg"},
    "da": {"og", "ikke", "det", "som", "til", "er", "på", "med", "af", "skal", "har", "jeg"},
    "de": {"und", "der", "die", "das", "ist", "nicht", "mit", "für", "sie", "zu", "den", "auf"},
}


def guess_language(text: str) -> str:
    """ISO 639-1 code of the text by script and common words; Swedish when unsure (the corpus language)."""
    if not text.strip():
        return "sv"
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff")
    if arabic > 0.3 * len(text.replace(" ", "")):
        return "ar"
    words = Counter(w.lower() for w in re.findall(r"\w+", text))
    scores = {lang: sum(words[w] for w in marks) for lang, marks in _MARKERS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else "sv"

