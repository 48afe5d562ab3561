"""The extractive answer: no LLM; the retrieved passages' most relevant sentences, each cited.

GuardedAnswerGenerator uses it as the extractive backend and as the fallback when an LLM fails.
"""

from haystack import Document

from assist.instructions import instruction_like
from assist.text import overlap, sentences, terms

MAX_SENTENCES = 5
#: Score bonus for a sentence of the best-ranked document, divided by its document's rank. Tuned on eval_sets/dev
#: together with the rules in extract(): 0.15 per passage rank → 1.0 per document rank raised citation precision
#: 0.51 → 0.74 with as many of the reference answers' numbers quoted (0.55), since a routine's answer rarely needs
#: a weaker routine's sentences.
DOC_PRIOR = 1.0


def extract(
    question: str,
    documents: list[Document],
    language: str = "sv",
    max_sentences: int = MAX_SENTENCES,
    context: str = "",
) -> str:
    """Pick the sentences that share most terms with the question, favouring the higher-ranked documents.

    `context` (earlier questions of the conversation) counts for half: a follow-up's own words decide.
    Lines come back in source order, each ending in its [n] (n is the passage's 1-based number).
    """
    q = terms(question, language) | terms(question, "en")
    c = (terms(context, language) | terms(context, "en")) - q
    scored: list[tuple[float, float, int, int, str]] = []  # (score, match, passage n, position, sentence)
    doc_rank: dict[str, int] = {}
    for doc in documents:
        doc_rank.setdefault(str(doc.meta.get("doc_id", doc.id)), len(doc_rank) + 1)
    for n, doc in enumerate(documents, start=1):
        prior = DOC_PRIOR / doc_rank[str(doc.meta.get("doc_id", doc.id))]
        for pos, sent in enumerate(sentences(doc.content or "")):
            if instruction_like(sent):
                continue  # text aimed at the assistant is never quoted as a step (CitedAnswerBuilder says so)
            st = terms(sent, language) | terms(sent, "en")
            match = overlap(q, st) + 0.5 * overlap(c, st)
            scored.append((match + prior, match, n, pos, sent))
    if not scored:
        return ""
    best = sorted(scored, key=lambda s: -s[0])[:max_sentences]
    # The document prior decides where the answer comes from; a sentence gets in only when it shares terms with
    # the question and scores close to the best one, so a weaker routine's sentence needs a far better match.
    keep = [s for s in best if s[1] > 0 and s[0] >= 0.5 * best[0][0]] or best[:1]
    # A routine states the condition, then what to do ("If the client has fallen ... Call the nurse on ..."):
    # the sentence after a chosen one comes along, room permitting.
    chosen = {(s[2], s[3]) for s in keep}
    follow = [s for s in scored if (s[2], s[3] - 1) in chosen and (s[2], s[3]) not in chosen]
    keep += follow[: max(0, max_sentences - len(keep))]
    keep.sort(key=lambda s: (s[2], s[3]))
    return "\n".join(f"- {sent} [{n}]" for _, _, n, _, sent in keep)
