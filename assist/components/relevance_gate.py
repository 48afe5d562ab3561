"""Lets a question through to generation only when the retrieved evidence is strong enough."""

from haystack import Document, component


@component
class RelevanceGate:
    """Routes to `passed` when the best passage's similarity reaches `min_score`, else to `rejected`."""

    def __init__(self, *, min_score: float = 0.8):
        self.min_score = min_score

    @component.output_types(passed=list[Document], rejected=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Route the retrieved documents."""
        best = max((d.meta.get("relevance", 0.0) for d in documents), default=0.0)
        if documents and best >= self.min_score:
            return {"passed": documents}
        return {"rejected": documents}
