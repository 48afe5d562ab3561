"""Evaluation rows and the no-LLM metrics: retrieval hit@k / MRR / recall, refusal, citation precision, language."""

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Turn(BaseModel):
    """An earlier turn of a conversation."""

    role: str
    content: str


class EvalRow(BaseModel):
    """One question of `eval_sets/*.jsonl` (the design's contract, plus earlier turns and tags)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    language: str
    role: str
    reference_answer: str
    reference_sources: list[str]
    answerable: bool
    turns: list[Turn] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


def load_rows(paths: Iterable[Path]) -> list[EvalRow]:
    """Rows of the given JSONL files."""
    rows: list[EvalRow] = []
    for path in paths:
        with path.open(encoding="utf-8") as f:
            rows.extend(EvalRow.model_validate_json(line) for line in f if line.strip())
    return rows


def ranked_doc_ids(chunk_doc_ids: list[str]) -> list[str]:
    """Document ids in the order their first chunk was retrieved (a document counts once)."""
    return list(dict.fromkeys(chunk_doc_ids))


def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    """1/rank of the first relevant document, 0 when none was retrieved."""
    for i, doc in enumerate(ranked, start=1):
        if doc in relevant:
            return 1.0 / i
    return 0.0


def hit_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    """1 when a relevant document is among the first k, else 0."""
    return float(any(d in relevant for d in ranked[:k]))


def recall_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    """Share of the relevant documents among the first k."""
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def citation_precision(cited: list[str], relevant: set[str]) -> float | None:
    """Share of citations that point at a reference document; None when nothing was cited."""
    return sum(d in relevant for d in cited) / len(cited) if cited else None


def refusal_correct(refused: bool, answerable: bool) -> float:
    """1 when the assistant refused exactly when the row must be refused, else 0."""
    return float(refused == (not answerable))


def language_match(detected: str, expected: str) -> float:
    """1 when the answer's detected language is the row's language, else 0."""
    return float(detected == expected)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None."""
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def dump(obj: object, path: Path) -> None:
    """Write a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
