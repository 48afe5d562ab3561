"""Turns generator text into an Answer whose every citation points at a provided source and quotes it."""

from typing import Any

from haystack import Document, component

from assist.components.extractive import extract
from assist.languages import FALLBACK_NOTICE, NOT_COVERED, phrase
from assist.schemas import Answer, Citation
from assist.text import CITE, overlap, sentences, strip_citations, terms

QUOTE_MAX_CHARS = 600


def best_quote(doc: Document, claims: list[str], language: str) -> str:
    """The sentence(s) of the passage that best support the claims citing it."""
    sents = sentences(doc.content or "")
    if not sents:
        return (doc.content or "")[:QUOTE_MAX_CHARS]
    picked: list[str] = []
    for claim in claims:
        c = terms(strip_citations(claim), language)
        best = max(sents, key=lambda s: overlap(c, terms(s, language)))
        if best not in picked:
            picked.append(best)
    quote = " … ".join(picked)
    return quote[:QUOTE_MAX_CHARS]


def citation_for(n: int, doc: Document, quote: str) -> Citation:
    """A Citation from a retrieved passage."""
    meta = doc.meta
    return Citation(
        n=n,
        doc_id=str(meta.get("doc_id", "")),
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        page=meta.get("page"),
        section=str(meta.get("section", "")),
        quote=quote,
        collection=str(meta.get("collection", "")),
    )


def build_answer(text: str, documents: list[Document], language: str) -> tuple[str, list[Citation]]:
    """Drop citations that point at no provided source; collect the rest with their quotes."""
    claims: dict[int, list[str]] = {}
    kept_lines = []
    for line in text.splitlines():
        def keep(match: Any, line: str = line) -> str:
            n = int(match.group(1))
            if 1 <= n <= len(documents):
                claims.setdefault(n, []).append(line)
                return match.group(0)
            return ""

        kept_lines.append(CITE.sub(keep, line).rstrip())
    cleaned = "\n".join(kept_lines).strip()
    citations = [citation_for(n, documents[n - 1], best_quote(documents[n - 1], claims[n], language)) for n in sorted(claims)]
    return cleaned, citations


@component
class CitedAnswerBuilder:
    """Builds the final Answer: valid citations only, quotes from the cited passage, notices for the user."""

    @component.output_types(answer=Answer)
    def run(
        self,
        replies: list[str],
        documents: list[Document],
        question: str,
        language: str = "sv",
        generator: str = "extractive",
        fallback: bool = False,
    ) -> dict[str, Answer]:
        """Check citations and build the Answer."""
        notices: list[str] = []
        text, citations = build_answer(replies[0] if replies else "", documents, language)
        if not citations and documents:
            # An answer without a valid source is never shown: quote the sources instead.
            text, citations = build_answer(extract(question, documents, language), documents, language)
            if generator != "extractive":
                notices.append("The generated answer cited no source; showing the quoted routines instead.")
                generator = "extractive"
        if fallback:
            notices.append(phrase(FALLBACK_NOTICE, language))
        if not citations:
            return {"answer": Answer(answer=phrase(NOT_COVERED, language), refused=True, language=language)}
        return {
            "answer": Answer(
                answer=text, citations=citations, language=language, generator=generator,
                fallback=fallback, notices=notices,
            )
        }


@component
class RefusalBuilder:
    """The answer when the routines do not cover the question."""

    @component.output_types(answer=Answer)
    def run(self, rejected: list[Document], language: str = "sv") -> dict[str, Answer]:
        """Build a refusal."""
        return {"answer": Answer(answer=phrase(NOT_COVERED, language), refused=True, language=language)}
