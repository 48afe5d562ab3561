"""Measures answer quality on eval_sets without an LLM judge: retrieval per mode and embedder, refusal, citations.

    python bench/quality.py --split test --embedders e5 sentence-transformers --generators extractive llamacpp

Writes bench/results/quality-<split>.json. Tune only on dev; report test.
"""

import argparse
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path

from assist.evaluation import (
    EvalRow,
    citation_precision,
    dump,
    hit_at_k,
    load_rows,
    mean,
    ranked_doc_ids,
    recall_at_k,
    reciprocal_rank,
)
from assist.pipeline import Assistant
from assist.settings import Settings
from assist.text import overlap, sentences, strip_citations, terms
from ingest.pipeline import Ingestor

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d[\d\s.,:–-]*\d|\d")


def group(lang: str) -> str:
    return lang if lang in ("sv", "en") else "other"


def retrieval_metrics(assistant: Assistant, rows: list[EvalRow], k: int = 5) -> dict:
    """hit@k, MRR and recall per language group for answerable rows."""
    per: dict[str, list[tuple[float, float, float]]] = {}
    for row in rows:
        if not row.answerable:
            continue
        _, docs = assistant.answer_with_sources(row.question, row.role)
        ranked = ranked_doc_ids([d.meta["doc_id"] for d in docs])
        rel = set(row.reference_sources)
        m = (hit_at_k(ranked, rel, k), reciprocal_rank(ranked, rel), recall_at_k(ranked, rel, k))
        per.setdefault(group(row.language), []).append(m)
        per.setdefault("all", []).append(m)
    return {
        g: {
            "n": len(v),
            f"hit@{k}": mean(x[0] for x in v),
            "mrr": mean(x[1] for x in v),
            f"recall@{k}": mean(x[2] for x in v),
        }
        for g, v in per.items()
    }


def support(answer_text: str, quotes: dict[int, str], language: str) -> float | None:
    """Share of answer sentences whose terms are mostly in the passage they cite (a lexical faithfulness proxy)."""
    scores = []
    for sent in sentences(answer_text):
        cited = [int(n) for n in re.findall(r"\[(\d+)\]", sent)]
        claim = terms(strip_citations(sent), language)
        if not claim:
            continue
        best = max((overlap(claim, terms(quotes.get(n, ""), language)) for n in cited), default=0.0)
        scores.append(float(best >= 0.5))
    return mean(scores)


def answer_metrics(assistant: Assistant, rows: list[EvalRow]) -> dict:
    """Refusal accuracy, false refusals, citation precision, support and reference-number recall."""
    refuse_ok, false_refusals, precisions, supports, numbers, latencies = [], [], [], [], [], []
    for row in rows:
        t = time.perf_counter()
        answer, docs = assistant.answer_with_sources(row.question, row.role)
        latencies.append((time.perf_counter() - t) * 1000)
        if not row.answerable:
            refuse_ok.append(float(answer.refused))
            continue
        false_refusals.append(float(answer.refused))
        if answer.refused:
            continue
        precisions.append(citation_precision([c.doc_id for c in answer.citations], set(row.reference_sources)))
        passages = {i: d.content or "" for i, d in enumerate(docs, start=1)}
        supports.append(support(answer.answer, passages, "sv"))
        ref_numbers = {re.sub(r"\D", "", n) for n in NUMBER.findall(row.reference_answer)} - {""}
        if ref_numbers:
            got = re.sub(r"[^\d ]", "", answer.answer)
            numbers.append(sum(n in got.replace(" ", "") for n in ref_numbers) / len(ref_numbers))
    latencies.sort()
    return {
        "refusal_accuracy": mean(refuse_ok),
        "must_refuse_rows": len(refuse_ok),
        "false_refusal_rate": mean(false_refusals),
        "answerable_rows": len(false_refusals),
        "citation_precision": mean(precisions),
        "support": mean(supports),
        "reference_number_recall": mean(numbers),
        "latency_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "latency_p95_ms": round(latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--embedders", nargs="+", default=["e5"], choices=["e5", "sentence-transformers"])
    ap.add_argument("--modes", nargs="+", default=["dense", "sparse", "hybrid"])
    ap.add_argument("--generators", nargs="+", default=["extractive"], choices=["extractive", "llamacpp"])
    ap.add_argument("--llm-rows", type=int, default=40, help="rows answered with llama.cpp (it is slow on 2 cores)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = load_rows([ROOT / "eval_sets" / f"{args.split}.jsonl"])
    results: dict = {
        "split": args.split,
        "rows": len(rows),
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "runs": [],
    }
    for emb in args.embedders:
        tmp = Path(tempfile.mkdtemp(prefix="quality-"))
        try:
            settings = Settings(data_dir=tmp, qdrant={"path": tmp / "q"}, embedder={"backend": emb})
            ingestor = Ingestor(settings)
            report = ingestor.ingest([ROOT / "knowledge"])
            ingestor.close()
            failed = [f.path for f in report.failed]
            for mode in args.modes:
                s = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"mode": mode})})
                a = Assistant(s)
                run = {"embedder": emb, "mode": mode, "not_ingested": failed, "retrieval": retrieval_metrics(a, rows)}
                if mode == "hybrid" and "extractive" in args.generators:
                    run["answers_extractive"] = {"rows": len(rows), **answer_metrics(a, rows)}
                a.close()  # the embedded shard is one process's, one handle at a time
                for gen in [g for g in args.generators if g != "extractive"] if mode == "hybrid" else []:
                    ga = Assistant(s.model_copy(update={"generator": s.generator.model_copy(update={"backend": gen})}))
                    subset = [r for r in rows if r.answerable][: args.llm_rows]
                    run[f"answers_{gen}"] = {"rows": len(subset), **answer_metrics(ga, subset)}
                    ga.close()
                    # The same rows answered extractively, for a like-for-like comparison.
                    extractive = Assistant(s)
                    run["answers_extractive_same_rows"] = {"rows": len(subset), **answer_metrics(extractive, subset)}
                    extractive.close()
                results["runs"].append(run)
                print(run)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    dump(results, args.out or ROOT / "bench" / "results" / f"quality-{args.split}.json")


if __name__ == "__main__":
    main()
