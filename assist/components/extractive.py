"""The extractive generator: no LLM; the answer is the retrieved passages' most relevant sentences, each cited."""

from haystack import Document, component

from assist.text import overlap, sentences, terms

MAX_SENTENCES = 5


def extract(question: str, documents: list[Document], language: str = "sv", max_sentences: int = MAX_SENTENCES) -> str:
    """Pick the sentences that share most terms with the question, favouring higher-ranked passages.

    Lines come back in source order, each ending in its [n] (n is the passage's 1-based number).
    """
    q = terms(question, language)
    scored: list[tuple[float, int, int, str]] = []
    for n, doc in enumerate(documents, start=1):
        for pos, sent in enumerate(sentences(doc.content or "")):
            score = overlap(q, terms(sent, language)) + 0.15 / n  # a small prior for the better-ranked passage
            scored.append((score, n, pos, sent))
    if not scored:
        return ""
    best = sorted(scored, key=lambda s: -s[0])[:max_sentences]
    top = best[0][0]
    # Keep only sentences close to the best one: a weak sentence from another routine confuses more than it helps.
    keep = [s for s in best if s[0] >= 0.5 * top] or best[:1]
    keep.sort(key=lambda s: (s[1], s[2]))
    return "\n".join(f"- {sent} [{n}]" for _, n, _, sent in keep)


@component
class ExtractiveGenerator:
    """Answers with cited sentences quoted from the passages; deterministic and instant."""

    def __init__(self, *, max_sentences: int = MAX_SENTENCES):
        self.max_sentences = max_sentences

    @component.output_types(replies=list[str])
    def run(self, question: str, documents: list[Document], language: str = "sv") -> dict[str, list[str]]:
        """One reply: the cited sentences."""
        return {"replies": [extract(question, documents, language, self.max_sentences)]}
