"""Decides what the retrieved evidence allows: an answer, only the closest routines, or a refusal."""

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document, component

from assist.answerability import sentence_features
from assist.components.retriever import cosine
from assist.components.unit_embedder import stored_unit_cosines, stored_unit_vectors, without_stored_vectors
from assist.glossary import load_glossary
from assist.grounding import (
    Assessment,
    Calibration,
    LexiconCache,
    assess,
    by_routine,
    load_calibration,
    passage_units,
    routine_of,
)
from assist.translation import Translations, translations

logger = logging.getLogger(__name__)

#: Sentences of this many top routines are compared with a question in a language no routine is written in.
UNIT_DOCUMENTS = 1
#: The calibration's `sentence_cosine`: the question's nearest sentence among this many top routines' passages
#: (at most SENTENCE_UNITS sentences), for every question. Measured on dev (cross-validated): AUC 0.793 -> 0.802, and
#: at the same false-refusal budget the must-refuse questions sent to closest 0.52 -> 0.62.
SENTENCE_DOCUMENTS = 3
SENTENCE_UNITS = 40
#: How much nearer (cosine) another top routine's best sentence must be than the top routine's before a question in a
#: language no routine is written in is answered from it. Dev, other languages: citation precision 0.58 -> 0.67 and
#: key facts 0.33 -> 0.39, the same for margins 0.01-0.04.
FOREIGN_ROUTINE_MARGIN = 0.02
#: Sentence embeddings kept between questions (the same routines come up again and again).
UNIT_CACHE = 4096


def _has_vector(query_embedding: list[float] | np.ndarray | None) -> bool:
    """Was the question's vector given (a list from a caller, an array from the retriever)?"""
    return query_embedding is not None and len(query_embedding) > 0


@component
class RelevanceGate:
    """Routes the retrieved documents to `passed` (answer), `closest` (nearest routines only) or `rejected`.

    Relevance first, two rules tuned on eval_sets/dev: the best passage's cosine similarity must reach
    `min_score`, and no passage outside the caller's collections may beat it by more than `scope_margin` (then the
    answer is another role's routine, and a weaker passage of the caller's own would be a wrong answer). Failing
    either, the question is `rejected`: no routine is relevant.

    Then grounding, when a `document_store` is given: a relevant routine may still not answer what was asked
    ("how many vacation days do I have?" finds the routines about staff). The question's key terms, weighted by
    rarity in the store, are looked for in the passages (stems, compound parts, glossary synonyms from
    `glossary_dir`), and a calibrated model (`calibration`, default the packaged file fitted on eval_sets/dev)
    turns those findings and the retrieval scores into the probability that the passages answer the question.
    Below its threshold the documents go to `closest`. `grounding` carries the assessment either way.
    """

    def __init__(
        self,
        *,
        min_score: float = 0.8,
        scope_margin: float = 0.03,
        document_store: Any | None = None,
        glossary_dir: str | None = None,
        calibration: str | None = None,
        unit_embedder: Any | None = None,
        max_units: int = 12,
        dictionary_dir: str | None = None,
    ):
        self.min_score = min_score
        self.scope_margin = scope_margin
        self.document_store = document_store
        self.glossary_dir = glossary_dir
        self.calibration_path = calibration
        self._calibration: Calibration | None = None
        self._lexicon = LexiconCache(document_store) if document_store is not None else None
        self.unit_embedder = unit_embedder
        self.max_units = max_units
        self.dictionary_dir = dictionary_dir
        self._translator: Translations | None = translations(dictionary_dir) if dictionary_dir else None
        self._unit_vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def warm_up(self) -> None:
        """Read the calibration and the store's term statistics."""
        if self._lexicon is None:
            return
        if self.glossary_dir and not Path(self.glossary_dir).is_dir():
            logger.warning(
                "No glossary folder at %s: staff jargon is not expanded; set ASSIST_KNOWLEDGE_DIR to the routines' "
                "folder (one glossary.toml per collection).",
                self.glossary_dir,
            )
        if self._calibration is None:
            self._calibration = load_calibration(self.calibration_path)
        if self.unit_embedder is not None and hasattr(self.unit_embedder, "warm_up"):
            self.unit_embedder.warm_up()
        self._lexicon.get()

    def relevant(self, documents: list[Document], outside_best: float = 0.0) -> bool:
        """Is any retrieved routine relevant enough to answer from (the first two rules)?"""
        best = max((d.meta.get("relevance", 0.0) for d in documents), default=0.0)
        return bool(documents) and best >= self.min_score and outside_best - best <= self.scope_margin

    def assess(
        self,
        question: str,
        documents: list[Document],
        language: str,
        collections: list[str],
        query_embedding: list[float] | np.ndarray | None = None,
    ) -> Assessment:
        """The grounding of `documents` for `question` (features, uncovered terms, probability when calibrated)."""
        lexicon = self._lexicon.get() if self._lexicon is not None else None
        glossary = load_glossary(Path(self.glossary_dir) if self.glossary_dir else None, collections)
        assessment = assess(
            question, documents, language, lexicon, glossary, collections, translator=self._translator
        )
        has_vector = _has_vector(query_embedding)
        if has_vector and self._reads("sentence_cosine"):
            # Whether some sentence says what was asked, by meaning: "same topic" and "answers it" differ more
            # sentence by sentence than passage by passage.
            nearest = self.unit_scores(query_embedding, documents, SENTENCE_DOCUMENTS, SENTENCE_UNITS)
            assessment.features["sentence_cosine"] = max(nearest.values(), default=0.0)
        vector = None
        if has_vector and (self._calibration is None or self._calibration.reads_sentences):
            # The question's nearest sentences in the top routine, by meaning, for the learned model.
            top = list(by_routine(documents))[:1]
            q = np.asarray(query_embedding, dtype=np.float64)
            _, vectors = self.unit_vectors([d for d in documents if routine_of(d) in top], len(q))
            named, vector = sentence_features(q, vectors)
            assessment.features.update(named)
            assessment.sentence_vector = vector
        if assessment.features.get("foreign") and has_vector:
            # No word of the question can match a routine's: compare it with each sentence of the top routines
            # in the embedding space, which is shared across languages.
            assessment.unit_scores = self.unit_scores(query_embedding, documents)
            assessment.features["foreign_sentence_cosine"] = max(assessment.unit_scores.values(), default=0.0)
        if self._calibration is not None:
            assessment.probability = round(self._calibration.probability(assessment.features, vector), 4)
        return assessment

    def unit_vectors(self, chunks: list[Document], dim: int) -> tuple[list[str], np.ndarray]:
        """The sentences of `chunks` (each once) and their vectors: stored at ingest, else embedded (cached)."""
        units: list[str] = []
        rows: list[np.ndarray] = []
        for chunk in chunks:
            own = passage_units(chunk.content or "")
            stored = stored_unit_vectors(chunk, own, dim)
            for n, u in enumerate(own):
                if u in units:
                    continue
                if stored is not None:
                    units.append(u)
                    rows.append(stored[n])
                elif (v := self._embedded(u)) is not None:
                    units.append(u)
                    rows.append(v)
        return units, np.asarray(rows, dtype=np.float32).reshape(len(rows), dim)

    def _embedded(self, unit: str) -> np.ndarray | None:
        got = self._unit_vectors.get(unit)
        if got is None and self.unit_embedder is not None:
            (doc,) = self.unit_embedder.run(documents=[Document(content=unit)])["documents"]
            got = self._unit_vectors[unit] = np.asarray(doc.embedding, dtype=np.float64)
            if len(self._unit_vectors) > UNIT_CACHE:
                self._unit_vectors.popitem(last=False)
        return got

    def _reads(self, feature: str) -> bool:
        """Does the calibration read this feature? Without a calibration (the calibration script), all are made."""
        return self._calibration is None or feature in self._calibration.features

    def unit_scores(
        self,
        query_embedding: list[float] | np.ndarray,
        documents: list[Document],
        routines: int = UNIT_DOCUMENTS,
        max_units: int | None = None,
    ) -> dict[str, float]:
        """Cosine of the question with each sentence (or table row) of the best-ranked routines' passages.

        Vectors stored at ingest are used where a passage has them; the others are embedded now (and cached).
        """
        top = list(by_routine(documents))[:routines]
        chosen = [d for d in documents if routine_of(d) in top]
        units = list(dict.fromkeys(u for d in chosen for u in passage_units(d.content or "")))
        units = units[: max_units or self.max_units]
        stored = stored_unit_cosines(query_embedding, chosen)
        missing = [u for u in units if u not in stored and u not in self._unit_vectors]
        if missing and self.unit_embedder is not None:
            embedded = self.unit_embedder.run(documents=[Document(content=u) for u in missing])["documents"]
            for u, d in zip(missing, embedded, strict=True):
                self._unit_vectors[u] = np.asarray(d.embedding, dtype=np.float64)
                if len(self._unit_vectors) > UNIT_CACHE:
                    self._unit_vectors.popitem(last=False)
        q = np.asarray(query_embedding, dtype=np.float64)
        scores: dict[str, float] = {}
        for u in units:
            if u in stored:
                scores[u] = stored[u]
            elif (v := self._unit_vectors.get(u)) is not None:  # None only without an embedder
                scores[u] = round(cosine(q, v), 4)
        return scores

    @component.output_types(
        passed=list[Document], closest=list[Document], rejected=list[Document], grounding=Assessment
    )
    def run(
        self,
        documents: list[Document],
        outside_best: float = 0.0,
        question: str = "",
        collections: list[str] | None = None,
        language: str = "sv",
        query_embedding: np.ndarray | list[float] | None = None,
    ) -> dict[str, Any]:
        """Route the retrieved documents."""
        if not self.relevant(documents, outside_best):
            return {"rejected": without_stored_vectors(documents)}
        if self._lexicon is None or not question:
            return {"passed": without_stored_vectors(documents)}
        self.warm_up()
        assessment = self.assess(question, documents, language, collections or [], query_embedding)
        cal = self._calibration
        answers = cal is not None and assessment.probability is not None and assessment.probability >= cal.threshold
        logger.debug("grounding p=%s features=%s", assessment.probability, assessment.features)
        if answers and assessment.features.get("foreign") and _has_vector(query_embedding):
            documents = self.nearest_routine_first(documents, query_embedding, assessment)
        return {"passed" if answers else "closest": without_stored_vectors(documents), "grounding": assessment}

    def nearest_routine_first(
        self, documents: list[Document], query_embedding: list[float] | np.ndarray, assessment: Assessment
    ) -> list[Document]:
        """For a question in a language no routine is written in: the routine among the top three whose best
        sentence is nearest the question goes first, when it is nearer than the top routine's by
        FOREIGN_ROUTINE_MARGIN. Whole passages compare poorly across languages; a sentence that says what was
        asked compares well. The extractive answer then quotes that routine's sentences."""
        by_doc = by_routine(documents)
        ids = list(by_doc)[:SENTENCE_DOCUMENTS]
        best = {
            k: max(self.unit_scores(query_embedding, by_doc[k], 1, SENTENCE_UNITS).values(), default=0.0) for k in ids
        }
        nearest = max(ids, key=lambda k: (best[k], -ids.index(k)))  # ties keep the retrieval order
        if nearest == ids[0] or best[nearest] < best[ids[0]] + FOREIGN_ROUTINE_MARGIN:
            return documents
        documents = by_doc[nearest] + [d for d in documents if routine_of(d) != nearest]
        assessment.unit_scores = self.unit_scores(query_embedding, documents)
        return documents
