"""Turns generator text into an Answer whose every citation points at a provided source and quotes it."""

import re

from haystack import Document, component

from assist.components.extractive import answer_units, extract, passage_units
from assist.grounding import Assessment, KeyTerms, by_routine, key_terms, routine_of
from assist.instructions import INSTRUCTION_NOTICE, has_flagged, instruction_like, without_flagged
from assist.languages import (
    ASK_CONTACT,
    CLOSEST,
    FALLBACK_NOTICE,
    NO_TRANSLATION_NOTICE,
    NOT_COVERED,
    UNCOVERED,
    phrase,
)
from assist.schemas import Answer, Citation
from assist.text import CITE, overlap, strip_citations, terms

QUOTE_MAX_CHARS = 600
CLOSEST_ROUTINES = 3


def best_quote(doc: Document, claims: list[str], language: str) -> str:
    """The sentence(s) of the passage that best support the claims citing it (a table row with its headers)."""
    # A flagged message goes whole: the sentence after "Meddelande till AI-assistenten:" reads innocently alone.
    sents = [s for s in passage_units(without_flagged(doc.content or "")) if not instruction_like(s)]
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
                answerability=grounding.probability if grounding is not None else None,
            )
        }


#: A phone number (08-123 40 20, 010-456 67 00, 112, 1177, 114 14) or an e-mail address: what makes a line a contact.
_REACHABLE = re.compile(
    r"(?<![\d-])0\d{1,3}-\d{2,3}(?:[ \u00a0]\d{2,3}){1,3}(?![\d-])|(?<!\d)(?:112|1177|114 ?14)(?!\d)"
    r"|[\w.+-]+@[\w-]+\.[\w.]+"
)
_LIST_MARK = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
#: Sections that list who to contact ("## Kontakter"), by the last heading of a passage's section path.
CONTACT_SECTIONS = frozenset({"kontakter", "kontakt", "kontaktuppgifter", "contacts", "contact", "who to contact"})
#: Column headers of a contacts table.
CONTACT_HEADERS = frozenset({"telefon", "tel", "phone", "e-post", "epost", "e-mail", "email", "kontakt", "contact",
                             "nummer", "number"})


def contacts_in(doc: Document) -> list[str]:
    """The passage's contacts in order: lines that give a phone number or an e-mail address and whom it reaches, in a
    contacts section ("## Kontakter": "Nattsjuksköterska: 08-123 40 99") or a contacts table (a column named
    Telefon, E-post, Kontakt: "Sjuksköterska dagtid | Telefon: 08-123 40 20"). A line without a number or an address
    is never a contact, nor is a number in a step or in a table of other things ("Vem ringer du | Dag: ...")."""
    section = str(doc.meta.get("section", "")).split(" > ")[-1].strip().lower()
    text = without_flagged(doc.content or "").strip()
    # One line (a row ContactsLookup already took out of its table) is one unit: a sentence split would cut it.
    lines = [_LIST_MARK.sub("", text)] if "\n" not in text else [u for u, _ in answer_units(text)]
    out = []
    for unit in lines:
        if instruction_like(unit) or not _REACHABLE.search(unit):
            continue
        if not re.search(r"[^\W\d_]{3,}", _REACHABLE.sub(" ", unit)):
            continue  # a number alone ("08-123 90 00, hr@example.se") does not say whom it reaches
        headers = {c.split(":", 1)[0].strip().lower() for c in unit.split(" | ")[1:] if ":" in c}
        if section in CONTACT_SECTIONS or headers & CONTACT_HEADERS:
            out.append(unit)
    return out


def _contact(docs: list[Document], keys: KeyTerms) -> tuple[Document, str] | None:
    """The contact of the first passage that names any (passages come likeliest first): the one sharing most with
    the question, its first when none shares anything; None when no passage names one."""
    for doc in docs:
        rows = contacts_in(doc)
        if rows:
            lang = str(doc.meta.get("language", keys.language))
            return doc, max(enumerate(rows), key=lambda r: (round(keys.coverage(r[1], lang), 6), -r[0]))[1]
    return None


def _nearest_sentence(chunks: list[Document], keys: KeyTerms, unit_scores: dict[str, float]) -> tuple[
    tuple[float, float], Document, str
]:
    """A routine's sentence nearest the question: the most of its key terms, then the nearest in meaning (a
    question in a language no routine is written in matches no words); the earliest among equals."""
    best: tuple[tuple[float, float], Document, str] | None = None
    for doc in chunks:
        lang = str(doc.meta.get("language", keys.language))
        for unit, parts in answer_units(without_flagged(doc.content or "")):
            if instruction_like(unit) or unit.endswith(":") or not re.search(r"[^\W\d_]{3,}", unit):
                continue  # a line that announces a list ("HR-direkt:") or a bare number says nothing alone
            score = (round(keys.coverage(unit, lang), 6), max(unit_scores.get(p, 0.0) for p in parts))
            if best is None or score > best[0]:
                best = (score, doc, unit)
    if best is None:
        doc = chunks[0]
        return (0.0, 0.0), doc, without_flagged(doc.content or "")[:QUOTE_MAX_CHARS]
    return best


#: A closest routine's sentence is shown up to this many characters (a garbled PDF table can be one long "sentence");
#: its citation quotes it whole.
CLOSEST_LINE_CHARS = 240


def _shortened(text: str) -> str:
    """`text` cut at a word boundary to CLOSEST_LINE_CHARS, "…" marking the cut."""
    text = " ".join(text.split())
    if len(text) <= CLOSEST_LINE_CHARS:
        return text
    return text[: CLOSEST_LINE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def closest_answer(
    question: str,
    documents: list[Document],
    language: str,
    grounding: Assessment | None = None,
    contacts: list[Document] | None = None,
) -> Answer:
    """The routines are relevant but do not answer the question: say so, show each nearest routine's sentence nearest
    the question (the likeliest first), what none mentions, and whom to ask.

    Each routine's sentence is quoted under its title, never written as the answer. Whom to ask is a contact the
    routines name: from `contacts` (the contacts document's rows nearest the question) when given, else from the
    likeliest routine's own retrieved passages (its contacts section, a contacts table); no line is shown when none
    names one.
    """
    keys = grounding.key_terms if grounding is not None and grounding.key_terms.terms else key_terms(question, language)
    units = grounding.unit_scores if grounding is not None else {}
    uncovered = list(grounding.uncovered) if grounding is not None else []
    # The likeliest routines first, in retrieval's order (measured: it puts the reference routine of an answerable
    # question first more often than ordering by the nearest sentences does, dev 4 of 7 against 3).
    routines = list(by_routine(documents).values())[:CLOSEST_ROUTINES]
    picked = [_nearest_sentence(chunks, keys, units) for chunks in routines]
    # Whom to ask: the contacts document's row nearest the question when the pipeline looked it up, else a contact
    # the likeliest routine names among its retrieved passages (a less likely routine's contacts are for other
    # matters: "rast" got the IT service desk from the IT rules, the third closest).
    own = by_routine(documents)[routine_of(picked[0][1])] if picked else []
    found = (_contact(contacts, keys) if contacts else None) or _contact(own, keys)
    if found is not None:  # a closest routine whose nearest line is that contact is shown once, as the next step
        picked = [p for p in picked if " ".join(p[2].split()) != " ".join(found[1].split())] or picked
    citations = [citation_for(n, doc, quote[:QUOTE_MAX_CHARS]) for n, (_, doc, quote) in enumerate(picked, start=1)]
    lines = [phrase(CLOSEST, language)]
    lines += [f"- {c.title or c.doc_id}: \u201c{_shortened(c.quote)}\u201d [{c.n}]" for c in citations]
    if uncovered:
        lines.append(phrase(UNCOVERED, language).format(terms=", ".join(uncovered)))
    if found is not None:
        doc, row = found
        n = len(citations) + 1
        citations.append(citation_for(n, doc, row))
        lines.append(f"{phrase(ASK_CONTACT, language)} {row} [{n}]")
    notices = []
    if any(str(doc.meta.get("language", language)) != language for _, doc, _ in picked):
        notices.append(phrase(NO_TRANSLATION_NOTICE, language))
    return Answer(
        answer="\n".join(lines), citations=citations, status="closest", uncovered=uncovered, language=language,
        notices=notices,
    )


@component
class ClosestBuilder:
    """The answer when relevant routines do not answer the question: the nearest, plainly not an answer."""

    @component.output_types(answer=Answer)
    def run(
        self,
        closest: list[Document],
        question: str,
        language: str = "sv",
        grounding: Assessment | None = None,
        contacts: list[Document] | None = None,
    ) -> dict[str, Answer]:
        """Build the closest-routines answer; `contacts` are the contacts document's passages nearest the question,
        when the pipeline looks them up for closest answers too."""
        return {"answer": closest_answer(question, closest, language, grounding, contacts)}


@component
class RefusalBuilder:
    """The answer when the routines do not cover the question: says so, and names who to ask (cited)."""

    @component.output_types(answer=Answer)
    def run(
        self,
        rejected: list[Document],
        language: str = "sv",
        contacts: list[Document] | None = None,
    ) -> dict[str, Answer]:
        """Build a refusal; `contacts` are the contacts document's rows (or passages), nearest the question first.
        Who to ask is the first contact among them: a passage without one (the list's purpose or scope) is never
        shown as one."""
        text = phrase(NOT_COVERED, language)
        citations: list[Citation] = []
        found = _contact(contacts, KeyTerms(language=language)) if contacts else None
        if found is not None:
            doc, row = found
            text = f"{text} {phrase(ASK_CONTACT, language)} {row} [1]"
            citations = [citation_for(1, doc, row)]
        return {"answer": Answer(answer=text, citations=citations, status="refused", language=language)}
