"""The extractive answer: no LLM; the retrieved passages' sentences that carry the question's key terms, each cited.

GuardedAnswerGenerator uses it as the extractive backend and as the fallback when an LLM fails.
"""

import re

from haystack import Document

from assist.answer_types import asked_kinds, stated_kinds, states
from assist.grounding import KeyTerms, key_terms, passage_units, routine_of, words
from assist.instructions import instruction_like

__all__ = ["extract", "passage_units"]

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
#: The top routine's sentences that state a number (a time, a limit, a phone number) within NEARBY_FACT_SPAN
#: sentences of a chosen one fill the answer up to this many lines: a routine states the rule's other figures
#: beside it ("högst 8 °C vid leverans" ... "kylskåpet håller högst 5 °C"). Dev, reference facts quoted 0.554 ->
#: 0.633 at 7 lines and span 3 (measured before the dictionary forms: 0.564 -> 0.642, and 0.665 at 8 lines and span
#: 4, a long answer for a phone).
FACT_LINES = 7
NEARBY_FACT_SPAN = 3
_DIGIT = re.compile(r"\d")

#: A routine's purpose and scope sections ("Rutinen beskriver när ett barn ska vara hemma ...") name its topic in
#: the words of many questions but answer none: their sentences count for this share of their match. Dev, reference
#: facts quoted 0.633 -> 0.648, citation precision 0.777 -> 0.780 (the same for shares 0 to 0.5).
FRAMING_SECTIONS = frozenset({"syfte", "omfattning", "purpose", "scope"})
FRAMING_WEIGHT = 0.5

Scored = tuple[float, float, int, int, str, int]  # (score, match, passage n, position, sentence, the routine's rank)


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


def _nearby_facts(keep: list[Scored], scored: list[Scored], room: int) -> list[Scored]:
    """Up to `room` of the top routine's sentences that state a number, nearest a chosen sentence of the same
    passage first (within NEARBY_FACT_SPAN)."""
    if room <= 0:
        return []
    chosen = {(s[2], s[3]) for s in keep}

    def distance(s: Scored) -> int:
        return min((abs(s[3] - pos) for n, pos in chosen if n == s[2]), default=NEARBY_FACT_SPAN + 1)

    facts = [
        s for s in scored
        if s[5] == 1 and (s[2], s[3]) not in chosen and _DIGIT.search(s[4]) and distance(s) <= NEARBY_FACT_SPAN
    ]
    return sorted(facts, key=lambda s: (distance(s), -s[1], s[2], s[3]))[:room]


def _with_context(keep: list[Scored], scored: list[Scored], max_sentences: int, fact_lines: int) -> list[Scored]:
    """The chosen sentences and what they need around them."""
    # A routine states the condition, then what to do ("If the client has fallen ... Call the nurse on ..."):
    # the sentence after a chosen one comes along, room permitting.
    chosen = {(s[2], s[3]) for s in keep}
    follow = [s for s in scored if (s[2], s[3] - 1) in chosen and (s[2], s[3]) not in chosen]
    keep = keep + follow[: max(0, max_sentences - len(keep))]
    keep += _announced(keep, scored)
    return keep + _nearby_facts(keep, scored, fact_lines - len(keep))


def extract(  # noqa: PLR0913 - the conversation context and the grounding's key terms are optional
    question: str,
    documents: list[Document],
    language: str = "sv",
    max_sentences: int = MAX_SENTENCES,
    context: str = "",
    keys: KeyTerms | None = None,
    unit_scores: dict[str, float] | None = None,
    fact_lines: int = FACT_LINES,
) -> str:
    """Pick the sentences (and table rows) that carry the question's key terms, favouring higher-ranked documents.

    `keys` are the question's key terms weighted by rarity (from the grounding check); without them every content
    word weighs the same. `context` (earlier questions of the conversation) counts for half: a follow-up's own
    words decide. Lines come back in source order, each ending in its [n] (n is the passage's 1-based number).
    Ties are broken by passage number and position, so the same passages always give the same answer.
    `unit_scores` (sentence → cosine with the question, from the grounding check) choose the sentences when the
    question's words match none: a question in a language no routine is written in. The top routine's figures
    next to the chosen sentences fill the answer up to `fact_lines` lines (0: none).
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
    kinds = asked_kinds(question, language)
    rules = stated_kinds(question, language)
    best_unit = max(unit_scores.values(), default=0.0) if unit_scores else 0.0
    scored: list[Scored] = []
    rule_places: set[tuple[int, int]] = set()
    doc_rank: dict[str, int] = {}
    for doc in documents:
        doc_rank.setdefault(routine_of(doc), len(doc_rank) + 1)
    for n, doc in enumerate(documents, start=1):
        rank = doc_rank[routine_of(doc)]
        prior = DOC_PRIOR / rank
        lang = str(doc.meta.get("language", language))
        framing = _framing(doc)
        for pos, sent in enumerate(passage_units(doc.content or "")):
            if instruction_like(sent):
                continue  # text aimed at the assistant is never quoted as a step (CitedAnswerBuilder says so)
            ids = q.ids_of(sent, lang) | q.inside_compounds(sent)
            match = q.coverage_of(ids) + (0.5 * c.coverage_of(c.ids_of(sent, lang)) if c else 0.0)
            if unit_scores and sent in unit_scores:
                # The sentences nearest the question in meaning: the best scores 1, one UNIT_SPAN below it 0.
                match = max(match, (unit_scores[sent] - best_unit + UNIT_SPAN) / UNIT_SPAN)
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
    keep = [
        s for s in ranked if s[1] > 0 and s[1] >= KEEP_SHARE * best[1] and (s[5] == 1 or s[1] >= top_best)
    ][:max_sentences] or [best]
    keep = _with_context(keep, scored, max_sentences, fact_lines)
    keep.sort(key=lambda s: (s[2], s[3]))
    seen: set[str] = set()
    lines = []
    for _, _, n, _, sent, _ in keep:
        if sent not in seen:  # the same sentence in two overlapping chunks is quoted once
            seen.add(sent)
            lines.append(f"- {sent} [{n}]")
    return "\n".join(lines)
