"""Bilingual word lists for matching a question's terms across languages (FreeDict dictionaries, read where installed).

A Swedish question about an English routine, or a German one about a Swedish routine, shares no word with it: the
grounding check then cannot see that the routine says what was asked, and must not claim that "no routine
mentions" a word the routine says in its own language. The dictionaries come from Debian's FreeDict packages
(`dict-freedict-swe-eng`, `dict-freedict-eng-swe`, `dict-freedict-deu-swe`, ...; GPL, installed by the system and
never copied into this project), in the dictd format: `freedict-<src>-<dst>.index` and `.dict.dz`. A pair that is
installed is used in both directions; a language with none is matched by meaning only (the embedder).
"""

import gzip
import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from marisa_trie import BytesTrie

from assist import lemmas

logger = logging.getLogger(__name__)

DEFAULT_DICTIONARY_DIR = Path("/usr/share/dictd")
#: FreeDict's ISO 639-3 codes and the product's ISO 639-1 ones.
ISO3 = {
    "swe": "sv", "eng": "en", "deu": "de", "fin": "fi", "fra": "fr", "pol": "pl", "spa": "es", "rus": "ru",
    "tur": "tr", "ara": "ar", "kur": "ku", "hrv": "hr", "srp": "sr", "fas": "fa", "som": "so", "ukr": "uk",
    "lav": "lv", "tha": "th",
}
_FILE = re.compile(r"^freedict-([a-z]{3})-([a-z]{3})\.index$")
_HEAD = re.compile(r"^(?P<word>[^/<]+?)\s*(?:/[^/]*/)?\s*(?:<[^>]*>)?\s*$")
_NUMBERED = re.compile(r"^\s*\d+\.\s*")
_TRAILING_NUMBER = re.compile(r"\s+\d+\.$")
#: A translation longer than this many words is an explanation, not a word to look for in a passage.
MAX_WORDS = 2
#: Dictionary lines longer than this are definitions in the source language (fin-swe, deu-swe have many).
MAX_LINE = 80


def _b64(value: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for ch in value:
        n = n * 64 + alphabet.index(ch)
    return n


def parse_entry(text: str) -> tuple[str, list[str]]:
    """The headword of one dictd entry and its translations (short ones only; definitions are left out).

    FreeDict entries put the translations on the line after the headword, or on numbered sense lines ("1. nyckel")
    each followed by a definition in the source language ("Gegenstand zum Schließen ..."): only those lines count.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "", []
    m = _HEAD.match(lines[0])
    head = (m.group("word") if m else lines[0]).strip().lower()
    numbered = [line for line in lines[1:] if _NUMBERED.match(line)]
    chosen = numbered or lines[1:2]
    out: list[str] = []
    for raw in chosen:
        line = _TRAILING_NUMBER.sub("", _NUMBERED.sub("", raw)).strip()
        if not line or len(line) > MAX_LINE:
            continue
        for item in line.split(","):
            word = re.sub(r"\([^)]*\)", "", item).strip().strip(".;:").lower()
            if "(" in word or ")" in word:
                continue
            if word and len(word.split()) <= MAX_WORDS and word != head and not any(c.isdigit() for c in word):
                out.append(word)
    return head, list(dict.fromkeys(out))


class Dictionary:
    """One installed FreeDict pair, read whole (a few MB at most) and kept as word → translations."""

    def __init__(self, index: Path):
        m = _FILE.match(index.name)
        if not m:
            msg = f"{index} is not a FreeDict index (freedict-<src>-<dst>.index)"
            raise ValueError(msg)
        self.source, self.target = ISO3.get(m.group(1), m.group(1)), ISO3.get(m.group(2), m.group(2))
        self.entries: dict[str, list[str]] = {}
        data = gzip.decompress(index.with_suffix(".dict.dz").read_bytes())
        for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) != 3 or parts[0].startswith("00database"):
                continue
            start, length = _b64(parts[1]), _b64(parts[2])
            head, translations = parse_entry(data[start : start + length].decode("utf-8", errors="replace"))
            if head and translations:
                self.entries.setdefault(head, []).extend(t for t in translations if t not in self.entries.get(head, []))


#: Between a word's translations in a saved table (never in a dictionary's words).
_SEP = "\x1f"
#: Changes when the saved tables' layout or the parsing of entries changes, so that older saved tables are not read.
TABLE_FORMAT = "1"


class _Table:
    """One direction of a language pair, saved as a trie: a word and its translations, the common senses first."""

    def __init__(self, trie: BytesTrie) -> None:
        self._trie = trie

    def get(self, word: str) -> list[str]:
        found = self._trie.get(word)
        return found[0].decode().split(_SEP) if found else []


class Translations:
    """Word translations between the languages of the installed dictionaries, both directions of each pair.

    A pair's files are parsed once per machine (the German-Swedish pair in about 3 s) into a table saved with the
    word lists (assist.lemmas.cache_dir()); a process maps that table in a millisecond the first time a question
    needs the pair, so neither a start nor a language's first question reads a dictionary. A table is saved under
    the files' sizes and times, so an updated dictionary package is parsed again.
    """

    def __init__(self, directory: Path | None = DEFAULT_DICTIONARY_DIR):
        self.directory = directory
        self._files: dict[tuple[str, str], Path] = {}
        if directory is not None and directory.is_dir():
            for index in sorted(directory.glob("freedict-*-*.index")):
                m = _FILE.match(index.name)
                if m and index.with_suffix(".dict.dz").exists():
                    self._files[(ISO3.get(m.group(1), m.group(1)), ISO3.get(m.group(2), m.group(2)))] = index
        self._tables: dict[tuple[str, str], _Table] = {}
        self._lock = threading.Lock()

    def pairs(self) -> set[tuple[str, str]]:
        """(source, target) language pairs that can be translated (a file for either direction)."""
        return set(self._files) | {(b, a) for a, b in self._files}

    def has(self, source: str, target: str) -> bool:
        return (source, target) in self.pairs()

    def _pair_files(self, source: str, target: str) -> list[tuple[tuple[str, str], Path]]:
        return [(k, v) for k, v in self._files.items() if set(k) == {source, target}]

    def _saved_path(self, source: str, target: str) -> Path:
        """Where the table of source → target is saved: named by the files it is read from, as they are now."""
        identity = [TABLE_FORMAT]
        for _, index in self._pair_files(source, target):
            for path in (index, index.with_suffix(".dict.dz")):
                st = path.stat()
                identity.append(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
        digest = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
        return lemmas.cache_dir() / f"translations-{source}-{target}-{digest}.marisa"

    def _build(self, source: str, target: str) -> BytesTrie:
        """Parse the pair's dictionary files into the table of source → target."""
        key = (source, target)
        table: dict[str, list[str]] = {}
        for (a, b), index in self._pair_files(source, target):
            try:
                d = Dictionary(index)
            except (OSError, ValueError, EOFError) as exc:
                logger.warning("Skipping dictionary %s (%s): reinstall its FreeDict package.", index, exc)
                continue
            for word, found in d.entries.items():
                if (a, b) == key:
                    table.setdefault(word, []).extend(found)
                else:  # the reverse file: each translation leads back to its headword
                    for t in found:
                        table.setdefault(t, []).append(word)
        return BytesTrie((word, _SEP.join(dict.fromkeys(found)).encode()) for word, found in table.items())

    def _table(self, source: str, target: str) -> _Table:
        key = (source, target)
        got = self._tables.get(key)
        if got is not None:
            return got
        with self._lock:
            if key not in self._tables:
                trie = lemmas.saved_trie(self._saved_path(source, target), lambda: self._build(source, target),
                                         f"{source}-{target} translation table")
                self._tables[key] = _Table(trie)
            return self._tables[key]

    def warm_up(self) -> None:
        """Open every pair's tables now (parsing the files where no table is saved yet) rather than on a question."""
        for source, target in sorted(self.pairs()):
            self._table(source, target)

    def translate(self, word: str, source: str, target: str) -> list[str]:
        """Translations of `word` (lower case) from `source` into `target`; [] when unknown or no dictionary."""
        if not self.has(source, target):
            return []
        return self._table(source, target).get(word.lower())

    def translate_any(self, forms: Iterable[str], source: str, target: str) -> list[str]:
        """Translations of the first of `forms` (the word, then its dictionary form) the dictionary knows."""
        for form in forms:
            found = self.translate(form, source, target)
            if found:
                return found
        return []


@lru_cache(maxsize=4)
def translations(directory: str | None = str(DEFAULT_DICTIONARY_DIR)) -> Translations:
    """The shared Translations of a dictionary folder (read on first use)."""
    return Translations(Path(directory) if directory else None)
