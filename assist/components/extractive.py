"""The extractive answer: no LLM; the retrieved passages' most relevant sentences, each cited.

GuardedAnswerGenerator uses it as the extractive backend and as the fallback when an LLM fails.
"""

from haystack import Document

from assist.text import overlap, sentences, terms

MAX_SENTENCES = 5


def extract(
    question: str,
    documents: list[Document],
    language: str = "sv",
    max_sentences: int = MAX_SENTENCES,
    context: str = "",
) -> str:
    """Pick the sentences that share most terms with the question, favouring higher-ranked passages.

    `context` (earlier questions of the conversation) counts for half: a follow-up's own words decide.
    Lines come back in source order, each ending in its [n] (n is the passage's 1-based number).
    """
    q = terms(question, language) | terms(question, "en")
    c = (terms(context, language) | terms(context, "en")) - q
    scored: list[tuple[float, int, int, str]] = []
    for n, doc in enumerate(documents, start=1):
        for pos, sent in enumerate(sentences(doc.content or "")):
            st = terms(sent, language) | terms(sent, "en")
            score = overlap(q, st) + 0.5 * overlap(c, st) + 0.15 / n  # a small prior for the better-ranked passage
            scored.append((score, n, pos, sent))
    if not scored:
        return ""
    best = sorted(scored, key=lambda s: -s[0])[:max_sentences]
    top = best[0][0]
    # Keep only sentences close to the best one: a weak sentence from another routine confuses more than it helps.
    keep = [s for s in best if s[0] >= 0.5 * top] or best[:1]
    keep.sort(key=lambda s: (s[1], s[2]))
    return "\n".join(f"- {sent} [{n}]" for _, n, _, sent in keep)
