"""Per-question scores without an LLM, and their summary per eval set: what every run records and the gate checks."""

from typing import Any

from assist.evaluation import (
    EvalRow,
    citation_precision,
    hit_at_k,
    language_match,
    mean,
    ranked_doc_ids,
    recall_at_k,
    reciprocal_rank,
    refusal_correct,
)
from assist.languages import NO_TRANSLATION_NOTICE, detect_language
from assist.schemas import Answer

K = 5
JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
# Summary keys, in report order; `higher` says which direction is better.
SUMMARY_METRICS: dict[str, bool] = {
    f"hit@{K}": True, "mrr": True, f"recall@{K}": True, "citation_precision": True, "refusal_accuracy": True,
    "false_refusal_rate": False, "language_match": True, "language_match_translatable": True, "support": True,
    **dict.fromkeys(JUDGE_METRICS, True), "judge_failure_share": False,
}
_NO_TRANSLATION = set(NO_TRANSLATION_NOTICE.values())


def score_row(row: EvalRow, answer: Answer, chunk_doc_ids: list[str]) -> dict[str, Any]:
    """Scores of one answered question; metrics that do not apply to the row are None."""
    ranked = ranked_doc_ids(chunk_doc_ids)
    relevant = set(row.reference_sources)
    detected = detect_language(answer.answer, default=answer.language)
    # The extractive generator quotes the routines in their own language by design and says so in a notice:
    # such an answer cannot match a Somali question, so it is counted apart.
    untranslated = any(n in _NO_TRANSLATION for n in answer.notices)
    answered = not answer.refused
    return {
        f"hit@{K}": hit_at_k(ranked, relevant, K) if row.answerable else None,
        "rr": reciprocal_rank(ranked, relevant) if row.answerable else None,
        f"recall@{K}": recall_at_k(ranked, relevant, K) if row.answerable else None,
        "citation_precision": citation_precision([c.doc_id for c in answer.citations], relevant)
        if row.answerable and answered else None,
        "refusal_correct": refusal_correct(answer.refused, row.answerable),
        "detected_language": detected,
        "language_match": language_match(detected, row.language),
        "untranslated": untranslated,
        "support": answer.support if answered else None,
    }


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over a run's results: one group per eval set and `all`."""
    groups: dict[str, list[dict[str, Any]]] = {"all": []}
    for r in results:
        groups["all"].append(r)
        groups.setdefault(r.get("set", "?"), []).append(r)
    return {name: summarize_group(rs) for name, rs in groups.items()}


def summarize_group(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over results; questions that failed are counted in `errors` and left out of every mean."""
    ok = [r for r in results if not r.get("error")]
    answerable = [r for r in ok if r["answerable"]]
    must_refuse = [r for r in ok if not r["answerable"]]
    s: dict[str, Any] = {
        "rows": len(results), "errors": len(results) - len(ok), "answerable": len(answerable),
        "must_refuse": len(must_refuse),
        f"hit@{K}": mean(r[f"hit@{K}"] for r in answerable),
        "mrr": mean(r["rr"] for r in answerable),
        f"recall@{K}": mean(r[f"recall@{K}"] for r in answerable),
        "citation_precision": mean(r["citation_precision"] for r in answerable),
        "refusal_accuracy": mean(r["refusal_correct"] for r in must_refuse),
        "false_refusal_rate": mean(1.0 - r["refusal_correct"] for r in answerable),
        "language_match": mean(r["language_match"] for r in ok),
        "language_match_translatable": mean(r["language_match"] for r in ok if not r["untranslated"]),
        "untranslated_rows": sum(bool(r["untranslated"]) for r in ok),
        "support": mean(r["support"] for r in ok),
    }
    judged = [r for r in ok if r.get("judge")]
    if judged:
        for m in JUDGE_METRICS:
            s[m] = mean(r["judge"].get(m) for r in judged)
        attempts = [v for r in judged for v in r["judge"].values()]
        failures = sum(len(r.get("judge_errors", {})) for r in judged)
        s["judged_rows"] = len(judged)
        s["judge_failure_share"] = round(failures / len(attempts), 4) if attempts else None
    return s
