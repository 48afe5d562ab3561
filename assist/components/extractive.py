"""The extractive answer: no LLM; the retrieved passages' sentences that carry the question's key terms, each cited.

GuardedAnswerGenerator uses it as the extractive backend and as the fallback when an LLM fails.
"""

import re

from haystack import Document

from assist.answer_types import (
    PHONE,
    asked_kinds,
    clock_minutes,
    covers,
    header_variant,
    named_variants,
    stated_kinds,
    states,
)
from assist.grounding import KeyTerms, key_terms, passage_units, routine_of, words
from assist.instructions import LIST_MARK, flagged_sentences, instruction_like

__all__ = ["answer_units", "extract", "passage_units"]

MAX_SENTENCES = 5
#: Score bonus for a sentence of the best-ranked document, divided by its document's rank: it orders the sentences
#: that carry the question's terms (the top routine's first), but a sentence gets in only by its own match
#: (KEEP_SHARE), never on rank alone. Tuned on eval_sets/dev with KEEP_SHARE and FACT_BONUS: reference numbers
#: quoted 0.54 → 0.62, citation precision 0.58 → 0.64 against a prior of 0.15.
DOC_PRIOR = 1.0
#: A sentence is kept when its key-term coverage reaches this share of the best sentence's.
KEEP_SHARE = 0.6
#: Added to a matching sentence that states a number (a phone number, a time, a dose, a fee): staff ask for facts.
FACT_BONUS = 0.1
#: Added instead when the sentence states the kind of fact the question asks for ("how long" → "28 dagar").
ASKED_FACT_BONUS = 0.3
#: Cosine below the best sentence's at which a sentence chosen by meaning (`unit_scores`) no longer counts.
UNIT_SPAN = 0.05
#: Rows of a table that a chosen sentence announces ("Under 2025 är det:") come along with it, at most this many.
ANNOUNCED_ROWS = 6
#: Lines of an answer to a question that asks for a fact (a number, a time, a contact, a price): the fact first, then
#: at most what qualifies it. Earlier the top routine's figures near the chosen sentences filled answers up to 7 lines
#: (reference facts quoted, dev 0.554 -> 0.633): more facts caught, and an answer harder to act on at a client's door.
FACT_ANSWER_LINES = 3
_DIGIT = re.compile(r"\d")
_TITLE_TAIL = re.compile(r"\s+[–-]\s+")
#: A phone number of the routine's own (08-123 40 20), not an emergency or advice line (112, 1177).
_LOCAL_NUMBER = re.compile(r"(?<![\d-])0\d{1,3}-\d{2,3}(?:[ \u00a0]\d{2,3}){1,3}")

#: A routine's purpose and scope sections ("Rutinen beskriver när ett barn ska vara hemma ...") name its topic in
#: the words of many questions but answer none: their sentences count for this share of their match. Dev, reference
#: facts quoted 0.633 -> 0.648, citation precision 0.777 -> 0.780 (the same for shares 0 to 0.5).
FRAMING_SECTIONS = frozenset({"syfte", "omfattning", "purpose", "scope"})
FRAMING_WEIGHT = 0.5

Scored = tuple[float, float, int, int, str, int]  # (score, match, passage n, position, sentence, the routine's rank)


#: A line that gives a number or an address after a label ("Data protection officer: 08-123 80 80, ...").
_LABELLED_VALUE = re.compile(r"^(?:\+?\d|[\w.+-]+@)")


def answer_units(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """The passage's units as the answer quotes them, each with the units of `passage_units` it joins: a label and
    the number or address it names ("Registrar:" then "08-123 80 00, registrator@example.se", split by the
    sentence splitter at the colon) are one line, for neither says anything alone."""
    units = passage_units(text)
    out: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(units):
        unit = units[i]
        nxt = units[i + 1] if i + 1 < len(units) else ""
        if unit.endswith(":") and " | " not in nxt and _LABELLED_VALUE.match(nxt):
            out.append((f"{unit} {nxt}", (unit, nxt)))
            i += 2
        else:
            out.append((unit, (unit,)))
            i += 1
    return out


def _context_terms(q: KeyTerms, context: str, language: str) -> KeyTerms | None:
    """The conversation's earlier words that the question itself does not use."""
    own = frozenset().union(*(t.ids for t in q.terms)) if q.terms else frozenset()
    rest = tuple(t for t in key_terms(context, language, q.lexicon).terms if not t.ids & own)
    return KeyTerms(rest, q.lexicon, language) if rest else None


def _framing(doc: Document) -> bool:
    """Is the passage from a routine's purpose or scope section (the last heading of its `section` path)?"""
    return str(doc.meta.get("section", "")).split(" > ")[-1].strip().lower() in FRAMING_SECTIONS


def _announced(keep: list[Scored], scored: list[Scored]) -> list[Scored]:
    """The table rows right after a chosen sentence that ends in a colon: a sentence that announces a list says
    nothing without it."""
    chosen = {(s[2], s[3]) for s in keep}
    by_place = {(s[2], s[3]): s for s in scored}
    rows = []
    for n, pos in sorted(p for p in chosen if by_place[p][4].endswith(":")):
        for nxt in range(pos + 1, pos + 1 + ANNOUNCED_ROWS):
            unit = by_place.get((n, nxt))
            if unit is None or " | " not in unit[4]:
                break
            if (n, nxt) not in chosen:
                rows.append(unit)
                chosen.add((n, nxt))
    return rows


def _with_next(keep: list[Scored], scored: list[Scored], max_sentences: int) -> list[Scored]:
    """The chosen sentences, then the sentence after each, room permitting: a routine states the condition, then
    what to do ("If the client has fallen ... Call the nurse on ...")."""
    chosen = {(s[2], s[3]) for s in keep}
    follow = [s for s in scored if (s[2], s[3] - 1) in chosen and (s[2], s[3]) not in chosen]
    return keep + follow[: max(0, max_sentences - len(keep))]


def _variant(doc: Document) -> str | None:
    """The one variant (day, night) a routine's title and top heading name, None for a routine that names none or
    both."""
    head = f"{doc.meta.get('title', '')} {str(doc.meta.get('section', '')).split(' > ')[0]}"
    named = named_variants(head)
    return next(iter(named)) if len(named) == 1 else None


def _asked_variant(question: str, documents: list[Document]) -> str | None:
    """The variant the question asks about: named in words ("på dagen", "at night"), or a time of day that one
    variant routine's hours hold ("kl 20" falls in "(07.00–21.30)"). None when it names none, or both."""
    named = named_variants(question)
    if len(named) == 1:
        return next(iter(named))
    minutes = clock_minutes(question)
    if minutes is None:
        return None
    held = {
        v for d in documents
        if (v := _variant(d)) is not None and covers(str(d.meta.get("section", "")).split(" > ")[0], minutes)
    }
    return next(iter(held)) if len(held) == 1 else None


def _only_variant(unit: str, asked: str) -> str:
    """A table row comparing the variants ("Vem ringer du | Dag: 08-123 40 20 | Natt: 08-123 40 99") without the
    cells of the variants not asked about."""
    cells = unit.split(" | ")
    kinds = [header_variant(c.split(":", 1)[0]) if ":" in c else None for c in cells]
    if asked not in kinds or len({k for k in kinds if k}) < 2:  # noqa: PLR2004 - a row that compares two variants
        return unit
    return " | ".join(c for c, k in zip(cells, kinds, strict=True) if k in (None, asked))


def _variant_labels(documents: list[Document], ns: set[int]) -> dict[int, str]:
    """Labels for the answer's lines that come from a variant of a routine (day or night), for a question that named
    neither: the variant's word from the routine's title ("Fall hos brukare – natt" -> "Natt")."""
    labels = {}
    for n in ns:
        variant = _variant(documents[n - 1])
        if variant is not None:
            title = str(documents[n - 1].meta.get("title", ""))
            tail = _TITLE_TAIL.split(title)[-1].strip()
            labels[n] = tail[:1].upper() + tail[1:] if tail and tail != title else variant
    return labels


def _siblings(documents: list[Document], top: str) -> set[int]:
    """Passages of the other variants of the top routine ("Fall hos brukare – dagtid" beside "– natt"): for a question
    that names no variant, each answers as much as the top routine does."""
    heads = {
        routine_of(d): _TITLE_TAIL.split(str(d.meta.get("title", "")))[0].strip()
        for d in documents if _variant(d) is not None
    }
    if top not in heads:
        return set()
    return {
        n for n, d in enumerate(documents, start=1) if routine_of(d) != top and heads.get(routine_of(d)) == heads[top]
    }


def _answering(kept: list[Scored], kinds: frozenset[str]) -> Scored:
    """The sentence that answers, for the first line: the best kept one that states what was asked (how long, the
    number, the price), else the best kept one. Asked whom to call, one with the routine's own number comes before
    one that names only an emergency line ("Ring 112 om ..." is the exception, the nurse's number the answer)."""
    stating = [s for s in kept if kinds and states(s[4], kinds)]
    if PHONE in kinds:
        stating.sort(key=lambda s: not _LOCAL_NUMBER.search(s[4]))
    return stating[0] if stating else kept[0]


def extract(  # noqa: PLR0913, PLR0912, PLR0915, C901 - the conversation context and the grounding's key terms are optional
    question: str,
    documents: list[Document],
    language: str = "sv",
    max_sentences: int = MAX_SENTENCES,
    context: str = "",
    keys: KeyTerms | None = None,
    unit_scores: dict[str, float] | None = None,
) -> str:
    """The answer first, then the routine's steps for that case: the sentences (and table rows) that carry the
    question's key terms, favouring higher-ranked documents.

    The first line is the sentence that answers (the one stating what was asked, the number, the contact, where the
    question asks for one); the other chosen sentences follow in the routine's order. A question that asks for a fact
    gets at most FACT_ANSWER_LINES lines, another at most `max_sentences` (and the table rows a chosen sentence
    announces). A question that names a variant (day or night) is answered from that variant's routine alone, and a
    table that compares the variants shows the asked one's column; lines from two variants are labelled.

    `keys` are the question's key terms weighted by rarity (from the grounding check); without them every content
    word weighs the same. `context` (earlier questions of the conversation) counts for half: a follow-up's own
    words decide. Each line ends in its [n] (n is the passage's 1-based number). Ties are broken by passage number
    and position, so the same passages always give the same answer. `unit_scores` (sentence → cosine with the
    question, from the grounding check) choose the sentences when the question's words match none: a question in a
    language no routine is written in.
    """
    if keys is not None and keys.terms:
        # The grounding's key terms come from the question and the conversation before it: the question's own
        # words weigh fully, the earlier ones count for half.
        own = set(words(question))
        q = KeyTerms(tuple(t for t in keys.terms if t.word in own) or keys.terms, keys.lexicon, keys.language)
        rest = tuple(t for t in keys.terms if t not in q.terms)
        c = KeyTerms(rest, keys.lexicon, keys.language) if rest else None
    else:
        q = key_terms(question, language)
        c = _context_terms(q, context, language) if context else None
    kinds = asked_kinds(question, language, extended=True)
    rules = stated_kinds(question, language)
    best_unit = max(unit_scores.values(), default=0.0) if unit_scores else 0.0
    asked = _asked_variant(question, documents)
    # A routine for another variant than the one asked about answers nothing, when the asked one's was retrieved.
    skip = (
        {n for n, d in enumerate(documents, start=1) if _variant(d) not in (None, asked)}
        if asked is not None and any(_variant(d) == asked for d in documents)
        else set()
    )
    scored: list[Scored] = []
    rule_places: set[tuple[int, int]] = set()
    doc_rank: dict[str, int] = {}
    for n, doc in enumerate(documents, start=1):
        if n not in skip:
            doc_rank.setdefault(routine_of(doc), len(doc_rank) + 1)
    for n, doc in enumerate(documents, start=1):
        if n in skip:
            continue
        rank = doc_rank[routine_of(doc)]
        prior = DOC_PRIOR / rank
        lang = str(doc.meta.get("language", language))
        framing = _framing(doc)
        flagged = set(flagged_sentences(doc.content or ""))
        for pos, (unit, parts) in enumerate(answer_units(doc.content or "")):
            if instruction_like(unit) or flagged.intersection(parts) or LIST_MARK.match(unit):
                # Text aimed at the assistant is never quoted as a step (CitedAnswerBuilder says so), nor the rest of
                # its message, nor a list number whose text the sentence splitter cut off ("- 3." then "Ignore ...").
                continue
            sent = _only_variant(unit, asked) if asked is not None and " | " in unit else unit
            ids = q.ids_of(sent, lang) | q.inside_compounds(sent)
            match = q.coverage_of(ids) + (0.5 * c.coverage_of(c.ids_of(sent, lang)) if c else 0.0)
            near = max((unit_scores[p] for p in parts if p in unit_scores), default=None) if unit_scores else None
            if near is not None:
                # The sentences nearest the question in meaning: the best scores 1, one UNIT_SPAN below it 0.
                match = max(match, (near - best_unit + UNIT_SPAN) / UNIT_SPAN)
            if not match and rank == 1 and rules and states(sent, rules):
                # A question that states a quantity asks for the top routine's rule for it, which need not
                # repeat the question's words ("kan en 16-åring få meröppet" → "Besökaren ska vara minst 18 år").
                rule_places.add((n, pos))
            if match and kinds and states(sent, kinds):
                match += ASKED_FACT_BONUS
            elif match and _DIGIT.search(sent):
                match += FACT_BONUS
            if framing:
                match *= FRAMING_WEIGHT
            scored.append((match + prior, match, n, pos, sent, rank))
    if not scored:
        return ""
    if rule_places:
        # The rule sentences count as carrying the question as far as the kept ones must (KEEP_SHARE).
        floor = KEEP_SHARE * max(s[1] for s in scored)
        scored = [(floor + s[0] - s[1], floor, *s[2:]) if (s[2], s[3]) in rule_places else s for s in scored]
    ranked = sorted(scored, key=lambda s: (-s[0], s[2], s[3]))
    best = ranked[0]
    # Only sentences that carry the question's terms nearly as well as the best one: a routine's other steps are
    # not an answer to this question.
    # Another routine's sentence must carry them at least as well as the best-ranked routine's best one.
    top_best = max((s[1] for s in scored if s[5] == 1), default=0.0)
    top = next((routine_of(d) for n, d in enumerate(documents, start=1) if n not in skip), "")
    siblings = _siblings(documents, top) if asked is None else set()
    keep = [
        s for s in ranked
        if s[1] > 0 and s[1] >= KEEP_SHARE * best[1] and (s[5] == 1 or s[2] in siblings or s[1] >= top_best)
    ][:max_sentences] or [best]
    lead = _answering(keep, kinds)
    limit = FACT_ANSWER_LINES if kinds else max_sentences
    # The other lines: the best of the other chosen sentences and the step after a chosen one ("If the client has
    # fallen ..." then "Call the nurse on ..."), as many as the limit leaves room for, with the table rows a shown
    # sentence announces (past the limit: the sentence says nothing without them); shown in the routine's order.
    seen = {lead[4]}
    body: list[Scored] = []
    candidates = _with_next(keep, scored, max_sentences)
    # Each other variant's answering sentence comes next, so that a question naming none sees every variant's answer.
    by_sibling: dict[str, list[Scored]] = {}
    for s in keep:
        if s[2] in siblings:
            by_sibling.setdefault(routine_of(documents[s[2] - 1]), []).append(s)
    candidates = [*(_answering(group, kinds) for group in by_sibling.values()), *candidates]
    for s in candidates:
        if s[4] not in seen and len(body) < limit - 1:  # the same sentence in two overlapping chunks is quoted once
            seen.add(s[4])
            body.append(s)
    body += [s for s in _announced([lead, *body], scored) if s[4] not in seen]

    def routine_order(s: Scored) -> tuple[int, int, int, int]:
        # The lead's routine first, then the others by rank; within one, its sections' order (the chunk number).
        return (0 if s[5] == lead[5] else s[5], int(documents[s[2] - 1].meta.get("chunk") or 0), s[2], s[3])

    body.sort(key=routine_order)
    labels = _variant_labels(documents, {s[2] for s in (lead, *body)}) if asked is None else {}
    lines = []
    shown = ""
    for s in (lead, *body):
        # A variant's label opens each run of its lines ("Natt: ..." then its next steps unlabelled).
        label = labels.get(s[2], "")
        lines.append(f"- {label}: {s[4]} [{s[2]}]" if label and label != shown else f"- {s[4]} [{s[2]}]")
        shown = label
    return "\n".join(lines)
