"""Turns generator text into an Answer whose every citation points at a provided source and quotes it."""

import re

from haystack import Document, component

from assist.components.extractive import extract, passage_units
from assist.grounding import Assessment, KeyTerms, key_terms
from assist.instructions import INSTRUCTION_NOTICE, has_flagged, instruction_like, without_flagged
from assist.languages import ASK_CONTACT, CLOSEST, FALLBACK_NOTICE, NOT_COVERED, UNCOVERED, phrase
from assist.schemas import Answer, Citation
from assist.text import CITE, overlap, sentences, strip_citations, terms

QUOTE_MAX_CHARS = 600
CLOSEST_ROUTINES = 3


def best_quote(doc: Document, claims: list[str], language: str) -> str:
    """The sentence(s) of the passage that best support the claims citing it (a table row with its headers)."""
    sents = [s for s in passage_units(doc.content or "") if not instruction_like(s)]
    if not sents:
        return without_flagged(doc.content or "")[:QUOTE_MAX_CHARS]
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


UNSUPPORTED_MARK = "⚠"
NOT_COVERED_MARK = "NOT_COVERED"  # what the system prompt tells the model to reply
SUPPORT_THRESHOLD = 0.5
NUMBER = re.compile(r"\d+")


def supported(claim: str, passages: list[str], language: str, same_language: bool) -> bool:
    """Does one of the cited passages support the claim?

    In the passages' own language: most of the claim's stemmed terms occur in a cited passage. Across languages
    (a translated answer) terms cannot match, so the check is narrower: every number in the claim must occur in
    a cited passage, the facts staff act on (phone numbers, doses, minutes).
    """
    text = strip_citations(claim)
    if same_language:
        c = terms(text, language)
        return not c or any(overlap(c, terms(p, language)) >= SUPPORT_THRESHOLD for p in passages)
    numbers = set(NUMBER.findall(text))
    joined = re.sub(r"\s", "", " ".join(passages))
    return all(n in joined for n in numbers)


def build_answer(
    text: str, documents: list[Document], language: str, *, check_support: bool = True
) -> tuple[str, list[Citation], float | None]:
    """Drop citations that point at no provided source, mark unsupported lines, collect citations and quotes."""
    claims: dict[int, list[str]] = {}
    kept_lines: list[str] = []
    verdicts: list[bool] = []
    for line in text.splitlines():
        valid = [int(n) for n in CITE.findall(line) if 1 <= int(n) <= len(documents)]
        cleaned = CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= len(documents) else "", line).rstrip()
        if not strip_citations(cleaned).strip(" -*"):
            kept_lines.append(cleaned)
            continue
        if check_support and valid:
            src_lang = str(documents[valid[0] - 1].meta.get("language", "sv"))
            ok = supported(cleaned, [documents[n - 1].content or "" for n in valid], language, src_lang == language)
            verdicts.append(ok)
            if not ok:
                cleaned = f"{cleaned} {UNSUPPORTED_MARK}"
        elif check_support:
            verdicts.append(False)
        for n in valid:
            claims.setdefault(n, []).append(cleaned)
        kept_lines.append(cleaned)
    answer = "\n".join(kept_lines).strip()
    citations = [
        citation_for(n, documents[n - 1], best_quote(documents[n - 1], claims[n], language)) for n in sorted(claims)
    ]
    support = round(sum(verdicts) / len(verdicts), 3) if verdicts else None
    return answer, citations, support


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
        context: str = "",
        grounding: Assessment | None = None,
    ) -> dict[str, Answer]:
        """Check citations and build the Answer."""
        notices: list[str] = []
        keys = grounding.key_terms if grounding is not None else None
        units = grounding.unit_scores if grounding is not None else None
        if replies and NOT_COVERED_MARK in replies[0] and generator != "extractive":
            # The model read the sources and found no answer: the nearest routines, never a guess dressed in
            # citations.
            answer = closest_answer(question, documents, language, grounding)
            answer.generator = generator
            return {"answer": answer}
        text, citations, support = build_answer(replies[0] if replies else "", documents, language)
        if not citations and documents:
            # An answer without a valid source is never shown: quote the sources instead.
            quoted = extract(question, documents, language, context=context, keys=keys, unit_scores=units)
            text, citations, support = build_answer(quoted, documents, language)
            if generator != "extractive":
                notices.append("The generated answer cited no source; showing the quoted routines instead.")
                generator = "extractive"
        if fallback:
            notices.append(phrase(FALLBACK_NOTICE, language))
        if any(has_flagged(d.content or "", d.meta.get("flagged")) for d in (documents[c.n - 1] for c in citations)):
            notices.append(phrase(INSTRUCTION_NOTICE, language))
        if support is not None and support < 1.0:
            notices.append(
                f"{UNSUPPORTED_MARK} marks a sentence the cited passage does not clearly support: check the source."
            )
        if not citations:
            return {"answer": Answer(answer=phrase(NOT_COVERED, language), refused=True, language=language)}
        return {
            "answer": Answer(
                answer=text,
                citations=citations,
                language=language,
                generator=generator,
                fallback=fallback,
                notices=notices,
                support=support,
            )
        }


def closest_answer(
    question: str, documents: list[Document], language: str, grounding: Assessment | None = None
) -> Answer:
    """The routines are relevant but do not answer the question: say so, name the nearest, and what none mentions.

    The nearest routines are named by title and cited (the quote is the passage closest to the question, for
    reading), but no sentence of theirs is written as the answer.
    """
    keys = grounding.key_terms if grounding is not None and grounding.key_terms.terms else key_terms(question, language)
    uncovered = list(grounding.uncovered) if grounding is not None else []
    picked: list[Document] = []
    for doc in documents:
        doc_id = str(doc.meta.get("doc_id", doc.id))
        if doc_id not in {str(d.meta.get("doc_id", d.id)) for d in picked}:
            picked.append(doc)
        if len(picked) == CLOSEST_ROUTINES:
            break
    citations = [citation_for(n, doc, closest_quote(doc, keys)) for n, doc in enumerate(picked, start=1)]
    names = "; ".join(f"{c.title or c.doc_id} [{c.n}]" for c in citations)
    text = f"{phrase(CLOSEST, language)} {names}."
    if uncovered:
        text = f"{text}\n{phrase(UNCOVERED, language).format(terms=', '.join(uncovered))}"
    return Answer(answer=text, citations=citations, status="closest", uncovered=uncovered, language=language)


def closest_quote(doc: Document, keys: KeyTerms) -> str:
    """The passage's sentence that shares most with the question (its first when none does)."""
    units = passage_units(doc.content or "")
    if not units:
        return (doc.content or "")[:QUOTE_MAX_CHARS]
    lang = str(doc.meta.get("language", keys.language))
    best = max(enumerate(units), key=lambda u: (keys.coverage(u[1], lang), -u[0]))[1]
    return best[:QUOTE_MAX_CHARS]


@component
class ClosestBuilder:
    """The answer when relevant routines do not answer the question: the nearest, plainly not an answer."""

    @component.output_types(answer=Answer)
    def run(
        self, closest: list[Document], question: str, language: str = "sv", grounding: Assessment | None = None
    ) -> dict[str, Answer]:
        """Build the closest-routines answer."""
        return {"answer": closest_answer(question, closest, language, grounding)}


def table_rows(text: str) -> list[str]:
    """Data rows of a Markdown table, as 'cell – cell – cell'."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.strip().startswith("|") and not set("".join(cells)) <= set("-: ") and len(cells) > 1:
            rows.append(" – ".join(c for c in cells if c and c != "–"))
    return rows[1:] if len(rows) > 1 else rows


@component
class RefusalBuilder:
    """The answer when the routines do not cover the question: says so, and names who to ask (cited)."""

    @component.output_types(answer=Answer)
    def run(
        self, rejected: list[Document], language: str = "sv", contacts: list[Document] | None = None
    ) -> dict[str, Answer]:
        """Build a refusal; `contacts` are passages of the contacts document closest to the question."""
        text = phrase(NOT_COVERED, language)
        citations: list[Citation] = []
        if contacts:
            doc = contacts[0]
            rows = table_rows(doc.content or "") or sentences(doc.content or "")[:1]
            if rows:
                text = f"{text} {phrase(ASK_CONTACT, language)} {rows[0]} [1]"
                citations = [citation_for(1, doc, rows[0])]
        return {"answer": Answer(answer=text, citations=citations, status="refused", language=language)}
