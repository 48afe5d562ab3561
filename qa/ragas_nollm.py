"""RAGAS 0.4's own metrics that need no LLM, scored for every answerable question of every run.

- context precision: `NonLLMContextPrecisionWithReference`, the retrieved passages (in rank order) against the
  passages of the row's reference sources; a retrieved passage counts as relevant when its string similarity
  (normalised Levenshtein) to a reference passage is at least 0.5, and the score is RAGAS's average precision.
- context recall: `NonLLMContextRecall`, the share of the reference sources' passages that some retrieved passage
  matches in the same way.
- string similarity: `NonLLMStringSimilarity` between the answer and the reference answer, for answered questions.

The LLM-judged RAGAS metrics (qa.judge) come on top whenever a judge is configured.
"""

import asyncio
import math
import warnings
from typing import Any

from qa.metrics import RAGAS_NO_LLM


class NoLlmRagas:
    """The three no-LLM RAGAS metrics of one question; the RAGAS objects are built once per run."""

    def __init__(self) -> None:
        from ragas.metrics.collections import NonLLMStringSimilarity  # noqa: PLC0415

        # RAGAS 0.4.3 marks its `ragas.metrics` imports deprecated in favour of `ragas.metrics.collections`, which
        # does not have these two yet.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall  # noqa: PLC0415

        self._precision = NonLLMContextPrecisionWithReference()
        self._recall = NonLLMContextRecall()
        self._similarity = NonLLMStringSimilarity()

    def score(
        self, *, retrieved: list[str], reference_passages: list[str], answer: str | None, reference_answer: str
    ) -> dict[str, float | None]:
        """{metric: value in [0, 1] or None}: context metrics need retrieved and reference passages, string
        similarity an answer (None when the question was not answered)."""
        return asyncio.run(self.ascore(retrieved=retrieved, reference_passages=reference_passages, answer=answer,
                                       reference_answer=reference_answer))

    async def ascore(
        self, *, retrieved: list[str], reference_passages: list[str], answer: str | None, reference_answer: str
    ) -> dict[str, float | None]:
        from ragas.dataset_schema import SingleTurnSample  # noqa: PLC0415

        out: dict[str, float | None] = dict.fromkeys(RAGAS_NO_LLM)
        retrieved = [c for c in retrieved if c.strip()]
        reference_passages = [c for c in reference_passages if c.strip()]
        if retrieved and reference_passages:
            sample = SingleTurnSample(retrieved_contexts=retrieved, reference_contexts=reference_passages)
            out["ragas_context_precision"] = _unit(await self._precision.single_turn_ascore(sample))
            out["ragas_context_recall"] = _unit(await self._recall.single_turn_ascore(sample))
        if answer is not None:
            result = await self._similarity.ascore(reference=reference_answer, response=answer)
            out["ragas_string_similarity"] = _unit(result.value)
        return out


def _unit(value: Any) -> float | None:
    """A RAGAS value as a float in [0, 1] rounded to 4 places; NaN (nothing to score) is None."""
    v = float(value)
    return None if math.isnan(v) else round(min(1.0, max(0.0, v)), 4)
