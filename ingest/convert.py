"""Converts source files into page-level texts with the document's metadata (Markdown with front matter, PDF)."""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import frontmatter
from pypdf import PdfReader

logger = logging.getLogger(__name__)

SUPPORTED = {".md", ".markdown", ".pdf"}


class ConversionError(Exception):
    """A file could not be read; the message says why, for the ingest report."""


@dataclass
class Page:
    """Text of one page (or the whole text for unpaged formats)."""

    text: str
    number: int | None = None


@dataclass
class SourceDocument:
    """A converted file: its pages and metadata."""

    doc_id: str
    title: str
    pages: list[Page]
    meta: dict[str, Any] = field(default_factory=dict)


def file_hash(path: Path) -> str:
    """sha256 of the file's bytes, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _iso(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value) if value is not None else ""


def convert_markdown(path: Path) -> SourceDocument:
    """Markdown with optional YAML front matter (title, owner, valid_from, review_date, language, version)."""
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        msg = "not UTF-8 text"
        raise ConversionError(msg) from exc
    except Exception as exc:
        msg = f"front matter could not be parsed ({type(exc).__name__})"
        raise ConversionError(msg) from exc
    fm = post.metadata
    title = str(fm.get("title") or _first_heading(post.content) or path.stem)
    meta = {
        "owner": str(fm.get("owner", "")),
        "valid_from": _iso(fm.get("valid_from")),
        "review_date": _iso(fm.get("review_date")),
        "language": str(fm.get("language", "sv")),
        "doc_version": int(fm.get("version", 1)),
        "replaces": str(fm.get("replaces", "")),
    }
    if not post.content.strip():
        msg = "empty file"
        raise ConversionError(msg)
    return SourceDocument(doc_id=path.stem, title=title, pages=[Page(post.content)], meta=meta)


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def convert_pdf(path: Path) -> SourceDocument:
    """PDF text per page (pypdf), page numbers kept; metadata from the info dictionary."""
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            msg = "encrypted PDF: remove the password and ingest again"
            raise ConversionError(msg)
        info = reader.metadata or {}
        pages = [Page(p.extract_text() or "", i) for i, p in enumerate(reader.pages, start=1)]
    except ConversionError:
        raise
    except Exception as exc:
        msg = f"corrupt PDF ({type(exc).__name__}: {str(exc)[:80]})"
        raise ConversionError(msg) from exc
    if not any(p.text.strip() for p in pages):
        msg = "scanned: needs OCR (no text layer)"
        raise ConversionError(msg)
    title = str(info.get("/Title") or path.stem)
    meta = {
        "owner": str(info.get("/Author", "")),
        "valid_from": str(info.get("/ValidFrom", "")),
        "review_date": str(info.get("/ReviewDate", "")),
        "language": str(info.get("/Language", "sv")),
        "doc_version": int(str(info.get("/DocVersion", "1")) or 1),
        "replaces": str(info.get("/Replaces", "")),
    }
    return SourceDocument(doc_id=path.stem, title=title, pages=pages, meta=meta)


def convert(path: Path) -> SourceDocument:
    """Convert one file by its extension."""
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return convert_markdown(path)
    if suffix == ".pdf":
        return convert_pdf(path)
    msg = f"unsupported file type {suffix or '(none)'}"
    raise ConversionError(msg)
