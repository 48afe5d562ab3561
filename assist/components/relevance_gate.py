"""Lets a question through to generation only when the retrieved evidence is strong enough."""

from haystack import Document, component


@component
class RelevanceGate:
    """Routes to `passed` when the evidence is good enough, else to `rejected`.

    Two rules, tuned on eval_sets/dev: the best passage's cosine similarity must reach `min_score`, and no
    passage outside the caller's collections may beat it by more than `scope_margin` (then the answer is
    another role's routine, and a weaker passage of the caller's own would be a wrong answer).
    """

    def __init__(self, *, min_score: float = 0.8, scope_margin: float = 0.03):
        self.min_score = min_score
        self.scope_margin = scope_margin

    @component.output_types(passed=list[Document], rejected=list[Document])
    def run(self, documents: list[Document], outside_best: float = 0.0) -> dict[str, list[Document]]:
        """Route the retrieved documents."""
        best = max((d.meta.get("relevance", 0.0) for d in documents), default=0.0)
        if documents and best >= self.min_score and outside_best - best <= self.scope_margin:
            return {"passed": documents}
        return {"rejected": documents}
