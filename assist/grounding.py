"""Grounding: do the retrieved passages address what was asked, or only its topic?

A question's key terms are its content words, weighted by how rare they are in the routines (BM25's IDF over the
store's chunks). A term counts as found in a passage through its stem, through the parts of a Swedish compound
("semesterdagar" → semester + dagar, split against the corpus's own vocabulary), through an irregular plural
("bok" / "böcker") or through a synonym from the collection's glossary. From that, and from the retrieval scores,
`features()` describes one retrieved set; a calibrated logistic model (`Calibration`, fitted by
`scripts/calibrate.py` on eval_sets/dev only) turns the features into the probability that the passages answer
the question.
"""

import json
import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from assist import lemmas
from assist.answer_types import asked_kinds, states
from assist.answerability import SENTENCE_FEATURES
from assist.errors import ConfigError
from assist.glossary import Glossary
from assist.text import sentences, terms
from assist.translation import Translations

_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
#: Linking letters between the parts of a Swedish compound ("lån-e-tid", "arbet-s-miljö").
_LINKS = ("s", "e", "a", "u", "o")
MIN_PART = 3
MIN_COMPOUND = 7
MIN_KNOWN_PART = 4
MIN_UNKNOWN_PART = 5
#: Languages whose dictionary forms (lemmas) join a word's irregular inflections: those the routines are written in.
LEMMA_LANGUAGES = ("sv", "en")
#: Words this long that the corpus lacks are checked for a typing error ("aggresiv" for "aggressiv"); from
#: LONG_TYPO letters on, two edits.
MIN_TYPO = 6
LONG_TYPO = 10
MIN_KEY_TERM = 3  # shorter words ("o", "va") are chat shorthand, not what a question is about; glossary entries count
#: Swedish nouns whose plural changes the vowel, which no stemmer maps back to the singular.
IRREGULAR_PLURALS = {
    "böcker": "bok", "fötter": "fot", "händer": "hand", "städer": "stad", "nätter": "natt", "tänder": "tand",
    "bränder": "brand", "länder": "land", "söner": "son", "döttrar": "dotter", "bönder": "bonde", "män": "man",
    "möss": "mus", "gäss": "gås", "rötter": "rot", "böter": "bot", "stränder": "strand", "mödrar": "moder",
    "fäder": "fader", "bröder": "broder", "ränder": "rand", "getter": "get",
}
#: Words that shape a question but name nothing a routine would contain ("how many", "may I", "should"): they are
#: not key terms. The stemmers' stopword lists leave most of them in.
QUESTION_WORDS = frozenset(
    [
        "många", "mycket", "länge", "lång", "långt", "ofta", "hur", "när", "var", "vem", "vems", "vad", "vilken",
        "vilket", "vilka", "varför", "får", "få", "fick", "ska", "skall", "måste", "behöver", "behövs", "gör", "göra",
        "gäller", "finns", "fanns", "jag", "mig", "min", "mitt", "mina", "man", "vi", "ni", "kan", "kunna", "bör",
        "borde", "how", "many", "much", "long", "often", "what", "when", "where", "who", "whom", "whose", "which",
        "why", "do", "does", "did", "should", "must", "may", "might", "can", "could", "need", "needs", "i", "me", "my",
        "we", "our", "you", "is", "are", "there",
    ]
)
#: Features of one retrieved set, in the order the calibration's coefficients use.
FEATURES = (
    "best_cosine",
    "margin",
    "window_coverage",
    "top_document_coverage",
    "document_coverage",
    "all_coverage",
    "rarest_found",
    "absent_terms",
    "absent_share",
    "cross_language",
    "cross_cosine",
    "asks_fact",
    "fact_window_coverage",
    "foreign",
    "foreign_sentence_cosine",
    "sentence_cosine",
    *SENTENCE_FEATURES,
    "absent_terms_same_language",
    "absent_share_same_language",
)
DEFAULT_CALIBRATION = "calibration.json"
_MODEL_KEYS = {
    "features", "mean", "scale", "coef", "intercept", "threshold", "vector_mean", "vector_scale", "vector_coef",
}


def words(text: str) -> list[str]:
    """Lower-case words of `text` (hyphenated words stay whole, digits are left out)."""
    return _WORD.findall(text.lower())


def _sv_forms(word: str) -> set[str]:
    """The word and the forms Swedish Snowball leaves unstemmed with their ending: definite "-an", "-et", "-ln",
    genitive "-s" ("sjuksköterskan" → "sjuksköterska", "lånekortet" → "lånekort", "nyckeln" → "nyckel")."""
    out = {word}
    if len(word) >= 5:
        if word.endswith("an"):
            out.add(word[:-1])
        if word.endswith("et"):
            out.add(word[:-2])
        if word.endswith(("ln", "rn")):
            out.add(word[:-1])
        if word.endswith("s") and not word.endswith("ss"):
            out |= _sv_forms(word[:-1]) if len(word) > 5 else {word[:-1]}
    return out


@lru_cache(maxsize=200_000)
def _sv_stems(word: str) -> frozenset[int]:
    """Swedish stems of a word and of its unstemmed inflected forms."""
    return frozenset(i for form in _sv_forms(word) for i in terms(form, "sv"))


@lru_cache(maxsize=200_000)
def stems(word: str, language: str = "sv") -> frozenset[int]:
    """Term ids of one word under `language`'s stemmer and stopwords, plus its Swedish and English stems."""
    own = terms(word, language)
    if not own:
        return frozenset()
    return frozenset(own | _sv_stems(word) | terms(word, "en") | _lemma_stems(word))


@lru_cache(maxsize=200_000)
def _lemma_stems(word: str) -> frozenset[int]:
    """Stems of the word's dictionary forms in the routines' languages: the inflections a stemmer cannot join
    ("slog" and "slagit" → "slå", "fell" → "fall", "gick" → "gå"), from simplemma's word lists."""
    out: set[int] = set()
    for language in LEMMA_LANGUAGES:
        lemma = lemmas.lemmatize(word, language).lower()
        if lemma != word:
            out |= terms(lemma, language)
    return frozenset(out)


_ENDINGS = ("arna", "erna", "orna", "ade", "are", "ast", "as", "ar", "er", "or", "en", "et", "ad", "at", "a", "e", "s")


def _root(word: str) -> str:
    """The word without one common Swedish ending: what a compound that contains it shares with it."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_KNOWN_PART:
            return word[: -len(ending)]
    return word


class Lexicon:
    """What the routines say, as term statistics: document frequencies, vocabulary, compound parts.

    Built from the store's chunks (`build`) at warm-up; `refresh` rebuilds it when the number of stored chunks has
    changed, at most once per `ttl_s`, so a routine ingested while the service runs is known a minute later.
    """

    def __init__(self) -> None:
        self.chunks = 0
        self.vocab: Counter[str] = Counter()
        self.df: Counter[int] = Counter()
        self.collection_terms: dict[str, set[int]] = {}
        self.known: set[int] = set()
        self.languages: set[str] = set()
        self.collection_languages: dict[str, set[str]] = {}
        self._word_ids: dict[str, frozenset[int]] = {}
        self._by_first: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> "Lexicon":
        # Shared and only ever read while answering; the pipeline deep-copies what components pass each other, and
        # a copy of the store's whole vocabulary per question cost ~250 ms on 2 cores.
        return self

    @classmethod
    def from_texts(cls, texts: Iterable[tuple[str, str, str]]) -> "Lexicon":
        """A lexicon of (text, collection, language) triples."""
        lex = cls()
        lex._build(list(texts))
        return lex

    def _build(self, texts: list[tuple[str, str, str]]) -> None:
        vocab: Counter[str] = Counter()
        tokenised = []
        for text, collection, language in texts:
            ws = words(text)
            vocab.update(ws)
            tokenised.append((ws, collection, language))
        self.vocab = vocab
        self._by_first = {}
        for w in sorted(vocab):
            if len(w) >= MIN_TYPO - 1:
                self._by_first.setdefault(w[0], []).append(w)
        # First the plain stems the corpus uses, so that compound parts can be recognised by their stems too.
        self.known = {i for w in vocab for i in stems(w, "sv")}
        self._word_ids = {}
        df: Counter[int] = Counter()
        per_collection: dict[str, set[int]] = {}
        for ws, collection, language in tokenised:
            ids: set[int] = set()
            for w in set(ws):
                ids |= self.word_ids(w, language)
            df.update(ids)
            per_collection.setdefault(collection, set()).update(ids)
        self.df = df
        self.collection_terms = per_collection
        self.languages = {language for _, _, language in texts}
        self.collection_languages = {}
        for _, collection, language in texts:
            self.collection_languages.setdefault(collection, set()).add(language)
        self.chunks = len(texts)

    def _known(self, part: str) -> bool:
        return bool(self.vocab[part]) or bool(stems(part, "sv") & self.known)

    def misspelt(self, word: str) -> str | None:
        """The corpus word `word` is most likely a typing error for: one edit away (two for long words), same first
        letter; None when there is none or several equally near."""
        if len(word) < MIN_TYPO or word in self.vocab:
            return None
        cutoff = 1 if len(word) < LONG_TYPO else 2
        candidates = self._by_first.get(word[0], [])
        found = process.extract(word, candidates, scorer=Levenshtein.distance, score_cutoff=cutoff, limit=3)
        if not found:
            return None
        best = min(d for _, d, _ in found)
        nearest = [w for w, d, _ in found if d == best]
        return nearest[0] if len(nearest) == 1 else None

    def idf(self, term_id: int) -> float:
        """BM25's inverse document frequency; a term no chunk has gets the highest weight."""
        n = max(self.chunks, 1)
        df = self.df.get(term_id, 0)
        return math.log((n - df + 0.5) / (df + 0.5) + 1.0)

    def split(self, word: str, *, frequent: bool = False) -> list[str]:
        """Two parts of a compound, one of them known to the corpus ("semesterdagar" → ["semester", "dagar"]).

        A word the corpus uses often is not split (unless `frequent`: a passage's "lånetid" still shows "lån");
        a hyphenated word splits at its hyphens. Parts known to the
        corpus (as words or by their stems) win, then the longer tail. An unknown part is what no routine mentions.
        """
        if "-" in word:
            return [p for p in word.split("-") if len(p) >= 2]
        if len(word) < MIN_COMPOUND or (self.vocab[word] >= 2 and not frequent):
            return []
        best: tuple[int, int, str, str] | None = None
        for i in range(MIN_PART, len(word) - MIN_PART + 1):
            head, tail = word[:i], word[i:]
            heads = [head] + [head[:-1] for link in _LINKS if head.endswith(link) and len(head) > MIN_PART]
            known_head = next((h for h in heads if self._known(h)), None)
            known_tail = self._known(tail)
            if not (known_head and known_tail):
                # One unknown part is allowed only when both are long: "semester|dagar", not "ins|kriven".
                known_part = known_head or (tail if known_tail else None)
                unknown_part = head if known_tail else tail
                if not known_part or len(known_part) < MIN_KNOWN_PART or len(unknown_part) < MIN_UNKNOWN_PART:
                    continue
            known = int(known_head is not None) + int(known_tail)
            candidate = (known, len(tail), known_head or head, tail)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
        return [best[2], best[3]] if best else []

    def word_ids(self, word: str, language: str = "sv") -> frozenset[int]:
        """Term ids that stand for `word` in a passage: its stems, its compound parts' stems, its singular."""
        key = f"{language}:{word}"
        got = self._word_ids.get(key)
        if got is not None:
            return got
        ids = set(stems(word, language))
        if ids:
            base = IRREGULAR_PLURALS.get(word)
            if base is None and word.endswith(tuple(IRREGULAR_PLURALS)):
                suffix = next(p for p in IRREGULAR_PLURALS if word.endswith(p))
                base = IRREGULAR_PLURALS[suffix]
                ids |= stems(suffix, "sv")
            if base:
                ids |= stems(base, "sv")
            for part in self.split(word, frequent=True):
                ids |= stems(part, "sv")
        out = frozenset(ids)
        with self._lock:
            self._word_ids[key] = out
        return out

    def text_ids(self, text: str, language: str = "sv") -> frozenset[int]:
        """Term ids a passage offers (stems, compound parts, singulars) for matching a question's terms."""
        ids: set[int] = set()
        for w in set(words(text)):
            ids |= self.word_ids(w, language)
        return frozenset(ids)

    def mentioned(self, term_ids: Iterable[int], collections: Iterable[str]) -> bool:
        """Does any routine of `collections` use one of these terms?"""
        wanted = set(term_ids)
        return any(wanted & self.collection_terms.get(c, set()) for c in collections)


@dataclass(frozen=True)
class KeyTerm:
    """One content word of the question and the ways a passage can show it."""

    word: str
    ids: frozenset[int]  # the word's own stems
    parts: tuple[tuple[str, frozenset[int], float], ...]  # compound parts: (part, stems, weight)
    synonyms: tuple[frozenset[int], ...]  # each glossary synonym's or translation's stems (all of one must be found)
    weight: float
    #: Routine languages (other than the question's) into which a dictionary translated the word (or, for a
    #: compound, each part): only there can the word's absence be checked.
    translated: frozenset[str] = frozenset()
    #: Stems of the word's dictionary translations: they say whether a routine in another language mentions the word
    #: (so that "no routine mentions" is never said of a word a routine says in English), but do not count as the
    #: passage showing the word: a dictionary's common senses ("days" -> "dagar") made near misses look covered.
    translations: tuple[frozenset[int], ...] = ()

    def found(self, passage: frozenset[int]) -> float:
        """How much of this term the passage shows (0..1): whole, by a synonym, or by its compound parts."""
        if self.ids & passage or any(s and s <= passage for s in self.synonyms):
            return 1.0
        if not self.parts:
            return 0.0
        total = sum(w for _, _, w in self.parts) or 1.0
        return sum(w for _, ids, w in self.parts if ids & passage) / total


@dataclass(frozen=True)
class KeyTerms:
    """The question's key terms, weighted by rarity; `coverage(text)` says how much of the question a text shows."""

    terms: tuple[KeyTerm, ...] = ()
    lexicon: Lexicon | None = field(default=None, compare=False)
    language: str = "sv"

    @property
    def total(self) -> float:
        return sum(t.weight for t in self.terms)

    def ids_of(self, text: str, language: str | None = None) -> frozenset[int]:
        lang = language or self.language
        if self.lexicon is not None:
            return self.lexicon.text_ids(text, lang)
        return frozenset(terms(text, lang) | terms(text, "sv") | terms(text, "en"))

    def inside_compounds(self, text: str) -> frozenset[int]:
        """Ids of the key terms whose root lies inside a longer word of `text` ("tappas bort" in "borttappad").

        Lenient, for choosing sentences only: the grounding decision does not use it.
        """
        long_words = [w for w in words(text) if len(w) >= MIN_COMPOUND]
        out: set[int] = set()
        for t in self.terms:
            root = _root(t.word)
            if len(root) >= MIN_KNOWN_PART and t.ids and any(root in w and w != t.word for w in long_words):
                out.add(min(t.ids))
        return frozenset(out)

    def coverage_of(self, passage: frozenset[int]) -> float:
        """Weighted share of the key terms that the passage's term ids show (0..1)."""
        total = self.total
        if not total:
            return 0.0
        return sum(t.weight * t.found(passage) for t in self.terms) / total

    def coverage(self, text: str, language: str | None = None) -> float:
        return self.coverage_of(self.ids_of(text, language))

    def missing(self, passage: frozenset[int]) -> list[str]:
        """Key words (or the compound part) the passage does not show at all."""
        out = []
        for t in self.terms:
            if t.found(passage) >= 1.0:
                continue
            absent = [p for p, ids, _ in t.parts if not ids & passage]
            out.append(absent[0] if len(absent) == 1 else t.word)
        return out


def key_terms(
    question: str,
    language: str = "sv",
    lexicon: Lexicon | None = None,
    glossary: Glossary | None = None,
    translator: Translations | None = None,
) -> KeyTerms:
    """The question's content words, each with its stems, compound parts, glossary synonyms and IDF weight.

    Without a lexicon every term weighs 1 (no corpus statistics). With a `translator`, a word's translations into the
    other languages the routines are written in are kept beside it: a routine that says "key" mentions "nyckel".
    """
    glossary = glossary or Glossary()
    entries = glossary.matches(question, _sv_stems)
    out: list[KeyTerm] = []
    seen: set[frozenset[int]] = set()
    for word in dict.fromkeys(words(question)):
        short = len(word) < MIN_KEY_TERM and word not in entries
        own = stems(word, language) if word not in QUESTION_WORDS and not short else frozenset()
        if not own or own in seen:
            continue  # a stopword in the question's language, or a repeat
        seen.add(own)
        mine = _sv_stems(word)
        syn_words = {
            s
            for entry, syns in entries.items()
            if word in entry.split() or (" " not in entry and mine and _sv_stems(entry) == mine)
            for s in syns
        }
        synonyms = tuple(frozenset(i for w in words(s) for i in _sv_stems(w)) for s in sorted(syn_words))
        parts: tuple[tuple[str, frozenset[int], float], ...] = ()
        if lexicon is not None:
            weight = max(lexicon.idf(i) for i in own)
            in_corpus = any(lexicon.df.get(i) for i in own)
            if not in_corpus:
                split = lexicon.split(word)
                parts = tuple((p, stems(p, "sv") or frozenset(terms(p, "sv")), 0.0) for p in split)
                parts = tuple((p, ids, max((lexicon.idf(i) for i in ids), default=weight)) for p, ids, _ in parts)
                # Typed on a phone ("aggresiv", "kolega"), in a language the routines are written in.
                near = lexicon.misspelt(word) if language in lexicon.languages else None
                if near is not None:
                    near_ids = stems(near, language)
                    synonyms = (*synonyms, near_ids)
                    weight = max((lexicon.idf(i) for i in near_ids), default=weight)
        else:
            weight = 1.0
        translated: frozenset[str] = frozenset()
        more: list[frozenset[int]] = []
        if lexicon is not None and translator is not None:
            more, translated = _translations(word, parts, language, lexicon.languages - {language}, translator)
        out.append(
            KeyTerm(word=word, ids=own, parts=parts, synonyms=synonyms, weight=weight, translated=translated,
                    translations=tuple(more))
        )
    return KeyTerms(tuple(out), lexicon, language)


#: Translations of one word kept as synonyms: the dictionaries list the common senses first.
MAX_TRANSLATIONS = 4


@lru_cache(maxsize=50_000)
def _forms(word: str, language: str) -> tuple[str, ...]:
    """The word and its dictionary form in its own language (what a dictionary lists)."""
    try:
        lemma = lemmas.lemmatize(word, language).lower()
    except ValueError:  # a language simplemma does not know
        lemma = word
    return tuple(dict.fromkeys([word, lemma]))


def _translations(
    word: str,
    parts: tuple[tuple[str, frozenset[int], float], ...],
    language: str,
    targets: Iterable[str],
    translator: Translations,
) -> tuple[list[frozenset[int]], frozenset[str]]:
    """The stems of the word's translations into each routine language, and the languages it was translated into
    (for a compound the routines lack, each part must translate)."""
    synonyms: list[frozenset[int]] = []
    done: set[str] = set()
    for target in sorted(t for t in targets if translator.has(language, t)):
        found = translator.translate_any(_forms(word, language), language, target)[:MAX_TRANSLATIONS]
        part_found = [translator.translate_any(_forms(p, language), language, target) for p, _, _ in parts]
        for t in found:
            ids = frozenset(i for w in words(t) for i in stems(w, target))
            if ids:
                synonyms.append(ids)
        if found or (parts and all(part_found)):
            done.add(target)
    return synonyms, frozenset(done)


@dataclass
class Assessment:
    """The grounding of one retrieved set: the features the calibration reads, and what no routine mentions."""

    features: dict[str, float]
    uncovered: list[str]
    probability: float | None = None
    key_terms: KeyTerms = field(default_factory=KeyTerms)
    #: Cosine of each sentence of the top routines with the question, when its words cannot be matched (a question
    #: in a language no routine is written in): what the extractive answer quotes by.
    unit_scores: dict[str, float] = field(default_factory=dict)
    #: The question's vector against its nearest sentence in the top routine (assist/answerability.py), which the
    #: learned calibration reads beside the features.
    sentence_vector: Any = None


def routine_of(doc: Document) -> str:
    """The routine (document) a retrieved chunk belongs to."""
    return str(doc.meta.get("doc_id", doc.id))


def by_routine(chunks: Iterable[Document]) -> dict[str, list[Document]]:
    """Chunks grouped by routine, routines in the order of their first chunk, chunks in their own order."""
    groups: dict[str, list[Document]] = {}
    for d in chunks:
        groups.setdefault(routine_of(d), []).append(d)
    return groups


def assess(
    question: str,
    documents: list[Document],
    language: str,
    lexicon: Lexicon | None,
    glossary: Glossary | None,
    collections: list[str],
    top_documents: int = 3,
    translator: Translations | None = None,
) -> Assessment:
    """Features of a retrieved set (documents in rank order, each with meta `relevance`) for the calibration.

    Coverage is measured over the key terms the caller's routines mention at all: a word no routine uses (slang,
    or the very thing the routines lack) cannot be covered by any passage, and is counted apart (`absent_*`).
    """
    keys = key_terms(question, language, lexicon, glossary, translator)
    absent = [t for t in keys.terms if lexicon is not None and not _mentioned(t, lexicon, collections)]
    known = KeyTerms(tuple(t for t in keys.terms if t not in absent), keys.lexicon, keys.language)
    by_doc = by_routine(documents)
    doc_ids = list(by_doc)
    best_per_doc = [max(float(c.meta.get("relevance", 0.0)) for c in by_doc[k]) for k in doc_ids]
    best = max(best_per_doc, default=0.0)
    second = sorted(best_per_doc, reverse=True)[1] if len(best_per_doc) > 1 else 0.0
    top = doc_ids[:top_documents]
    window_cov = 0.0
    kinds = asked_kinds(question, language)
    fact_window_cov = 0.0  # the best window that also states the kind of fact asked for (a duration, a price, ...)
    doc_covs: list[float] = []
    top_union: set[int] = set()
    union: set[int] = set()
    for k in doc_ids:
        doc_terms: set[int] = set()
        for chunk in by_doc[k]:
            lang = str(chunk.meta.get("language", "sv"))
            units = passage_units(chunk.content or "")
            unit_ids = [known.ids_of(u, lang) for u in units]
            for ids in unit_ids:
                doc_terms |= ids
            if k in top:
                # A sentence and the next one: a routine often names the case, then says what to do.
                for n, ids in enumerate(unit_ids):
                    pair = ids | unit_ids[n + 1] if n + 1 < len(unit_ids) else ids
                    cov = known.coverage_of(frozenset(pair))
                    window_cov = max(window_cov, cov)
                    if kinds and cov > fact_window_cov and states(" ".join(units[n : n + 2]), kinds):
                        fact_window_cov = cov
        if k in top:
            doc_covs.append(known.coverage_of(frozenset(doc_terms)))
            top_union |= doc_terms
        union |= doc_terms
    rarest = max(known.terms, key=lambda t: t.weight, default=None)
    total = keys.total or 1.0
    top_langs = {str(c.meta.get("language", "sv")) for k in top for c in by_doc[k]}
    cross = float(bool(documents) and language not in top_langs)
    foreign = lexicon is not None and bool(lexicon.languages) and language not in lexicon.languages
    features = {
        "best_cosine": best,
        "margin": best - second,
        "window_coverage": window_cov,
        "top_document_coverage": doc_covs[0] if doc_covs else 0.0,
        "document_coverage": max(doc_covs, default=0.0),
        "all_coverage": known.coverage_of(frozenset(union)),
        "rarest_found": rarest.found(frozenset(top_union)) if rarest is not None else 0.0,
        "absent_terms": float(len(absent)),
        "absent_share": sum(t.weight for t in absent) / total if keys.terms else 0.0,
        "cross_language": cross,
        "cross_cosine": best * cross,
        "asks_fact": float(bool(kinds)),
        "fact_window_coverage": fact_window_cov if kinds else window_cov,
        "foreign": float(foreign),
        "foreign_sentence_cosine": 0.0,  # set by the gate, which holds the embedder
        "sentence_cosine": 0.0,  # set by the gate: the question's best sentence of the top routines, by meaning
        **dict.fromkeys(SENTENCE_FEATURES, 0.0),  # set by the gate: the top routine's sentences by meaning
    }
    # Words no routine mentions say something only when the question is asked in its routines' language: across
    # languages every word is "absent" whether the routine answers or not (a model fitted on both learnt that absent
    # words make an answer likelier, and answered "how many vacation days" from a Swedish routine).
    same = 0.0 if cross or foreign else 1.0
    features["absent_terms_same_language"] = features["absent_terms"] * same
    features["absent_share_same_language"] = features["absent_share"] * same
    # In a language no routine is written in, no word of the question can be mentioned: "No routine mentions: ..."
    # would list the whole question, which says nothing about what the routines lack.
    # A word is said to be missing only where that can be checked: in the routines of the question's language, and in
    # those of each other language the routines are written in through a translation of it. "Ingen rutin nämner:
    # lyftsele" would be false when an English routine says "sling".
    other = (_languages(lexicon, collections) - {language}) if lexicon is not None else set()
    checked = [
        t for t in absent
        if other <= t.translated and not any(lexicon and lexicon.mentioned(s, collections) for s in t.translations)
    ]
    uncovered = [] if foreign else _uncovered_words(checked, lexicon, collections)
    return Assessment(features=features, uncovered=uncovered, key_terms=keys)


def _languages(lexicon: Lexicon, collections: list[str]) -> set[str]:
    """The languages the routines of `collections` are written in (all the store's when none is named)."""
    named = [lexicon.collection_languages.get(c, set()) for c in collections]
    return set().union(*named) if named else set(lexicon.languages)


def _mentioned(term: KeyTerm, lexicon: Lexicon, collections: list[str]) -> bool:
    if lexicon.mentioned(term.ids, collections) or any(lexicon.mentioned(s, collections) for s in term.synonyms):
        return True

    return bool(term.parts) and all(lexicon.mentioned(ids, collections) for _, ids, _ in term.parts)


def _uncovered_words(absent: list[KeyTerm], lexicon: Lexicon | None, collections: list[str]) -> list[str]:
    """The words no routine of the caller's collections mentions; of a compound, the part none mentions when it is
    a word of its own ("semesterdagar" → "semester"; "leverantör" stays whole, never "antör")."""
    out: list[str] = []
    for t in absent:
        parts = [p for p, ids, _ in t.parts if lexicon is not None and not lexicon.mentioned(ids, collections)]
        known = len(parts) == 1 and any(lemmas.is_known(parts[0], lang) for lang in LEMMA_LANGUAGES)
        word = parts[0] if known else t.word
        if word not in out:
            out.append(word)
    return out


@dataclass(frozen=True)
class Calibration:
    """A logistic model over FEATURES: P(the passages answer the question) = sigmoid(coef · scaled + intercept)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    info: dict[str, Any] = field(default_factory=dict, compare=False)
    #: The learned part over the question–sentence interaction vector (assist/answerability.py); empty: none.
    vector_mean: tuple[float, ...] = ()
    vector_scale: tuple[float, ...] = ()
    vector_coef: tuple[float, ...] = ()

    @property
    def reads_sentences(self) -> bool:
        """Does the model read the top routine's sentences by meaning (the gate then computes them)?"""
        return bool(self.vector_coef) or any(f in SENTENCE_FEATURES for f in self.features)

    def probability(self, features: dict[str, float], vector: Any = None) -> float:
        z = self.intercept
        for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += c * (features.get(name, 0.0) - m) / (s or 1.0)
        if self.vector_coef and vector is not None and len(vector) == len(self.vector_coef):
            v = (np.asarray(vector, dtype=np.float64) - self._vm) / self._vs
            z += float(v @ self._vc)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @property
    def _vm(self) -> np.ndarray:
        return np.asarray(self.vector_mean, dtype=np.float64)

    @property
    def _vs(self) -> np.ndarray:
        s = np.asarray(self.vector_scale, dtype=np.float64)
        return np.where(s == 0, 1.0, s)

    @property
    def _vc(self) -> np.ndarray:
        return np.asarray(self.vector_coef, dtype=np.float64)

    def answers(self, features: dict[str, float], vector: Any = None) -> bool:
        return self.probability(features, vector) >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        out = {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            **self.info,
        }
        if self.vector_coef:
            out |= {"vector_mean": list(self.vector_mean), "vector_scale": list(self.vector_scale),
                    "vector_coef": list(self.vector_coef)}
        return out


def load_calibration(path: str | Path | None = None) -> Calibration:
    """The calibration file (default: the one shipped in the package); ConfigError naming the problem."""
    source = Path(path) if path else Path(str(files("assist") / DEFAULT_CALIBRATION))
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        names = tuple(data["features"])
        unknown = set(names) - set(FEATURES)
        if unknown:
            msg = f"unknown features {sorted(unknown)}"
            raise ValueError(msg)  # noqa: TRY301 - reported below as one ConfigError
        n = len(names)
        cal = Calibration(
            features=names,
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) for x in data["scale"]),
            coef=tuple(float(x) for x in data["coef"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            info={k: v for k, v in data.items() if k not in _MODEL_KEYS},
            vector_mean=tuple(float(x) for x in data.get("vector_mean", ())),
            vector_scale=tuple(float(x) for x in data.get("vector_scale", ())),
            vector_coef=tuple(float(x) for x in data.get("vector_coef", ())),
        )
        if not len(cal.mean) == len(cal.scale) == len(cal.coef) == n:
            msg = "features, mean, scale and coef differ in length"
            raise ValueError(msg)  # noqa: TRY301
        if not len(cal.vector_mean) == len(cal.vector_scale) == len(cal.vector_coef):
            msg = "vector_mean, vector_scale and vector_coef differ in length"
            raise ValueError(msg)  # noqa: TRY301
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = f"Cannot read the grounding calibration {source} ({exc}): re-run `python scripts/calibrate.py`."
        raise ConfigError(msg) from exc
    return cal


class LexiconCache:
    """A store's Lexicon, rebuilt when the number of chunks changes (checked at most once per `ttl_s`)."""

    def __init__(self, document_store: Any, ttl_s: float = 60.0):
        self.document_store = document_store
        self.ttl_s = ttl_s
        self._lexicon: Lexicon | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> Lexicon:
        now = time.monotonic()
        with self._lock:
            if self._lexicon is not None and now - self._checked < self.ttl_s:
                return self._lexicon
            self._checked = now
            count = _count(self.document_store)
            if self._lexicon is None or self._lexicon.chunks != count:
                self._lexicon = Lexicon.from_texts(_texts(self.document_store))
                logger.info("grounding lexicon: %d chunks, %d words", self._lexicon.chunks, len(self._lexicon.vocab))
            return self._lexicon


def _count(store: Any) -> int:
    try:
        return int(store.count_documents())
    except Exception:  # noqa: BLE001 - a store that cannot count is read again
        return -1


def _texts(store: Any) -> list[tuple[str, str, str]]:
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415 - avoids an import cycle

    if isinstance(store, EdgeDocumentStore):
        if not store.exists():
            return []
        payloads = store.filter_payloads(
            fields=["content", "meta.title", "meta.section", "meta.collection", "meta.language"]
        )
        metas = [(p.get("content") or "", p.get("meta") or {}) for p in payloads]
    else:
        metas = [(d.content or "", d.meta) for d in store.filter_documents()]
    return [
        (_joined(c, m), str(m.get("collection", "")), str(m.get("language", "sv")))
        for c, m in metas
    ]



def _joined(content: str, meta: dict[str, Any]) -> str:
    return f"{meta.get('title', '')}\n{meta.get('section', '')}\n{content}"


def _cells(line: str) -> list[str]:
    return [c.strip().replace("**", "") for c in line.strip().strip("|").split("|")]


def passage_units(text: str) -> list[str]:
    """The passage's sentences in order, with each Markdown table row as one unit quoted with its column headers.

    "| Böcker och ljudböcker | 28 dagar | 3 gånger |" under "| Medietyp | Lånetid | Omlån |" becomes
    "Böcker och ljudböcker | Lånetid: 28 dagar | Omlån: 3 gånger": a row alone does not say what its numbers are.
    """
    units: list[str] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1].strip()):
            units.extend(sentences("\n".join(prose)))
            prose = []
            headers = _cells(line)
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                units.append(table_row(headers, _cells(lines[i])))
                i += 1
            continue
        prose.append(lines[i])
        i += 1
    units.extend(sentences("\n".join(prose)))
    return [u for u in units if u]


def table_row(headers: list[str], cells: list[str]) -> str:
    """One table row with its headers: the first cell names the row, the others are 'Header: value'."""
    parts = []
    for n, cell in enumerate(cells):
        if not cell or cell in {"–", "-"}:
            continue
        head = headers[n] if n < len(headers) else ""
        parts.append(cell if n == 0 or not head else f"{head}: {cell}")
    return " | ".join(parts)
