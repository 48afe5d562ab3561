"""Small text helpers shared by the extractive generator and the citation check: sentences and overlap."""

import re
from functools import lru_cache

import qdrant_edge as qe

from assist.components.bm25_embedder import BM25_LANGUAGES

_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+(?=[\"'(]?[A-ZÅÄÖÉÜ0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
CITE = re.compile(r"\[(\d{1,2})\]")


def sentences(text: str) -> list[str]:
    """Split text into sentences; list items and lines stay whole, never split mid-sentence."""
    out: list[str] = []
    for unit in _units(text):
        out.extend(s.strip() for s in _SENTENCE_END.split(unit) if len(s.strip()) > 1)
    return out


def _units(text: str) -> list[str]:
    """Lines joined back into paragraphs where a PDF wrapped them; list items, headings and table rows stay apart."""
    units: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or set(line) <= set("|-: "):
            units.append("")
            continue
        item = _LIST_ITEM.match(line) is not None
        line = _LIST_ITEM.sub("", line).strip()
        prev = units[-1] if units else ""
        if prev and not item and not prev.endswith((".", "!", "?", ":", "|")) and not line.startswith("|"):
            units[-1] = f"{prev} {line}"
        else:
            units.append(line)
    return [u for u in units if u]


@lru_cache(maxsize=16)
def _bm25(language: str) -> qe.Bm25:
    return qe.Bm25(qe.Bm25Config(language=BM25_LANGUAGES.get(language, "swedish")))


def terms(text: str, language: str = "sv") -> set[int]:
    """Stemmed, stopword-free term ids of `text` (the same tokens the sparse index uses)."""
    return set(_bm25(language).embed_query(text).indices)


def overlap(claim: set[int], passage: set[int]) -> float:
    """Share of the claim's terms that the passage contains (0..1)."""
    return len(claim & passage) / len(claim) if claim else 0.0


def strip_citations(text: str) -> str:
    """Text without its [n] markers."""
    return re.sub(r"\s*\[\d{1,2}\]", "", text).strip()
