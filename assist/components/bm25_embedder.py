"""BM25 sparse vectors from Qdrant Edge's own model (stemmer + stopwords per language), as Haystack embedders.

Its config mirrors the Qdrant server's BM25, and the collection applies the IDF modifier, so the same sparse
vectors work on the embedded shard and on a server.
"""

import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import qdrant_edge as qe
from haystack import Document, component
from haystack.dataclasses import SparseEmbedding

from assist import lemmas
from assist.components.e5_embedder import embedding_text
from assist.glossary import load_glossary
from assist.translation import Translations, translations

#: Languages whose stemmer and stopwords ship with qdrant-edge (ISO 639-1 → Bm25Config language).
BM25_LANGUAGES = {
    "sv": "swedish",
    "en": "english",
    "fi": "finnish",
    "ar": "arabic",
    "no": "norwegian",
    "da": "danish",
    "de": "german",
    "ru": "russian",
}


@lru_cache(maxsize=16)
def _model(language: str) -> Any:
    return qe.Bm25(qe.Bm25Config(language=BM25_LANGUAGES.get(language, "swedish")))


def _to_sparse(vec: Any) -> SparseEmbedding:
    return SparseEmbedding(indices=list(vec.indices), values=list(vec.values))


def _sv_stem(word: str) -> frozenset[int]:
    return frozenset(_model("sv").embed_query(word).indices)


_WORD = re.compile(r"[^\W\d_]{3,}")
#: Translations of one question word added to the sparse query, per routine language (the common senses first).
QUERY_TRANSLATIONS = 2
#: The weight of a term that only a translation brings into the sparse query (the question's own terms weigh 1).
TRANSLATION_WEIGHT = 0.5


@lru_cache(maxsize=50_000)
def _lemma(word: str, language: str) -> str:
    try:
        return str(lemmas.lemmatize(word, language)).lower()
    except ValueError:  # a language simplemma does not know
        return word


def translated_words(text: str, language: str, targets: tuple[str, ...], translator: Translations) -> list[str]:
    """The question's words in each routine language a dictionary translates `language` into ("Schlüssel" ->
    "nyckel"), so the sparse search finds a routine that shares no word with the question."""
    out: list[str] = []
    for target in targets:
        if target == language or not translator.has(language, target):
            continue
        for word in dict.fromkeys(_WORD.findall(text.lower())):
            found = translator.translate_any((word, _lemma(word, language)), language, target)
            out.extend(found[:QUERY_TRANSLATIONS])
    return out


@component
class Bm25TextSparseEmbedder:
    """Sparse query vector (each unique stemmed token weighs 1; IDF comes from the collection).

    The question is stemmed the way each corpus language stems it (`corpus_languages`) and, where qdrant-edge has
    a stemmer for it, the way its own language does; the union finds a Swedish routine from an English question
    that shares its terms, and the reverse. With a `glossary_dir`, the glossary synonyms of the words the question
    uses (staff jargon such as "ssk") are added for the collections the caller reads (`collections`); with a
    `dictionary_dir` (FreeDict), the question's words translated into the corpus languages.
    """

    def __init__(
        self,
        *,
        corpus_languages: tuple[str, ...] = ("sv", "en"),
        glossary_dir: str | None = None,
        dictionary_dir: str | None = None,
    ):
        self.corpus_languages = corpus_languages
        self.glossary_dir = glossary_dir
        self.dictionary_dir = dictionary_dir
        self._translator = translations(dictionary_dir) if dictionary_dir else None

    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str, language: str = "sv", collections: list[str] | None = None) -> dict[str, SparseEmbedding]:
        """Embed one query text."""
        langs = dict.fromkeys([*self.corpus_languages, *([language] if language in BM25_LANGUAGES else [])])
        if self.glossary_dir and collections:
            extra = load_glossary(Path(self.glossary_dir), collections).expansion(text, _sv_stem)
            text = f"{text} {extra}" if extra else text
        translated = ""
        if self._translator is not None:
            # The question's words in the routines' languages, where a dictionary is installed (FreeDict).
            translated = " ".join(translated_words(text, language, self.corpus_languages, self._translator))
        indices: set[int] = set()
        for lang in langs:
            indices |= set(_model(lang).embed_query(text).indices)
        translated_ids: set[int] = set()
        for lang in self.corpus_languages if translated else ():
            translated_ids |= set(_model(lang).embed_query(translated).indices)
        # A dictionary lists several senses of a word and cannot tell which one is meant: its words count for half.
        weights = {i: 1.0 for i in indices} | {i: TRANSLATION_WEIGHT for i in translated_ids - indices}
        ordered = sorted(weights)
        return {"sparse_embedding": SparseEmbedding(indices=ordered, values=[weights[i] for i in ordered])}


@component
class Bm25DocumentSparseEmbedder:
    """Sparse term-frequency vectors for chunks, stemmed in each chunk's own language (meta `language`)."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Set `sparse_embedding` on each document."""
        return {
            "documents": [
                replace(
                    d,
                    sparse_embedding=_to_sparse(_model(d.meta.get("language", "sv")).embed_document(embedding_text(d))),
                )
                for d in documents
            ]
        }
