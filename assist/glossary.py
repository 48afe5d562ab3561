"""The city's glossary: staff jargon and abbreviations mapped to the words the routines use, one file per collection.

Content owners keep `knowledge/<collection>/glossary.toml`:

    [terms]
    ssk = ["sjuksköterska"]
    brukare = ["kund", "omsorgstagare"]

Each entry and its words form one group of synonyms, read both ways: a question that says "kund" finds a routine
that says "brukare", and the reverse. An entry may be a phrase ("lex sarah"). Sparse retrieval adds the synonyms to
the question's keywords, and the grounding check counts a question's term as found when a synonym is.
"""

import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from assist.errors import ConfigError

logger = logging.getLogger(__name__)

GLOSSARY_FILE = "glossary.toml"
_WORD = re.compile(r"[\w-]+")


def normalise(text: str) -> str:
    """Lower case, single spaces: the form glossary entries and questions are compared in."""
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Glossary:
    """Groups of synonyms; `groups[word]` holds every other word of the groups `word` belongs to."""

    groups: dict[str, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def synonyms(self, word: str) -> frozenset[str]:
        """The other words of `word`'s groups (empty when it has none)."""
        return self.groups.get(normalise(word), frozenset())

    def matches(self, text: str, stem: Callable[[str], frozenset[int]] | None = None) -> dict[str, frozenset[str]]:
        """The glossary entries found in `text` with their synonyms.

        A phrase must occur whole; a single word also matches an inflected form when `stem` (a stemmer returning
        term ids) gives both the same stems ("brukaren" finds the entry "brukare").
        """
        padded = f" {normalise(text)} "
        found = {entry: syns for entry, syns in self.groups.items() if f" {entry} " in padded}
        if stem is not None:
            stems = {s for w in padded.split() if (s := stem(w))}
            for entry, syns in self.groups.items():
                if entry not in found and " " not in entry and stem(entry) in stems:
                    found[entry] = syns
        return found

    def expansion(self, text: str, stem: Callable[[str], frozenset[int]] | None = None) -> str:
        """The synonyms of every entry found in `text`, as words to add to a keyword query ("" when none)."""
        found = self.matches(text, stem)
        extra = sorted({s for syns in found.values() for s in syns} - set(found))
        return " ".join(extra)

    def merged(self, other: "Glossary") -> "Glossary":
        """One glossary holding both's groups."""
        groups = dict(self.groups)
        for entry, syns in other.groups.items():
            groups[entry] = groups.get(entry, frozenset()) | syns
        return Glossary(groups)


def parse_glossary(text: str, source: str = "glossary") -> Glossary:
    """A Glossary from TOML text; ConfigError naming the file and the entry when it is malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{source} is not valid TOML ({exc}): fix the file, e.g. ssk = [\"sjuksköterska\"] under [terms]."
        raise ConfigError(msg) from exc
    terms = data.get("terms", {})
    if not isinstance(terms, dict):
        msg = f"{source}: [terms] must be a table of entry = [\"synonym\", ...]."
        raise ConfigError(msg)
    groups: dict[str, set[str]] = {}
    for entry, given in terms.items():
        values = [given] if isinstance(given, str) else given
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            msg = f"{source}: entry {entry!r} must map to a list of words, e.g. {entry} = [\"...\"]."
            raise ConfigError(msg)
        group = {normalise(w) for w in [entry, *values]} - {""}
        for word in group:
            groups.setdefault(word, set()).update(group - {word})
    return Glossary({w: frozenset(s) for w, s in groups.items() if s})


def load_glossary(folder: Path | None, collections: list[str] | tuple[str, ...]) -> Glossary:
    """The merged glossary of `collections` under `folder` (one `<collection>/glossary.toml` each; missing = none)."""
    if folder is None:
        return Glossary()
    merged = Glossary()
    for collection in sorted(set(collections)):
        path = Path(folder) / collection / GLOSSARY_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            continue
        merged = merged.merged(_read(str(path), stamp))
    return merged


@lru_cache(maxsize=64)
def _read(path: str, stamp: int) -> Glossary:
    # Keyed on the file's modification time: an owner's edit is read on the next question, without a restart.
    glossary = parse_glossary(Path(path).read_text(encoding="utf-8"), source=path)
    logger.info("glossary %s: %d words (version %s)", path, len(glossary.groups), stamp)
    return glossary
