"""Compares configurations on eval_sets without an LLM judge: embedders, retrieval modes and generators, with the
per-question metrics of `assist eval` (qa.metrics) summarised per language group.

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

from assist.evaluation import EvalRow, dump, load_rows, mean
from assist.pipeline import Assistant
from assist.settings import Settings
from ingest.pipeline import Ingestor
from qa.metrics import score_row, summarize_group

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d[\d\s.,:–-]*\d|\d")
KEPT = (
    "answerable",
    "hit@5",
    "mrr",
    "recall@5",
    "citation_precision",
    "refusal_accuracy",
    "false_refusal_rate",
    "support",
)


def group(lang: str) -> str:
    return lang if lang in ("sv", "en") else "other"


def number_recall(reference: str, answer: str) -> float | None:
    """Share of the reference answer's numbers (phone numbers, doses, minutes) that the answer quotes."""
    wanted = {re.sub(r"\D", "", n) for n in NUMBER.findall(reference)} - {""}
    if not wanted:
        return None
    got = re.sub(r"\D", "", answer)
    return sum(n in got for n in wanted) / len(wanted)


def measure(assistant: Assistant, rows: list[EvalRow]) -> dict:
    """Answer each row once; score it with the same per-question metrics as `assist eval` (qa.metrics).

    Summaries per language group (sv, en, other) and `all`, plus what only this bench reports: how many of the
    reference answer's numbers are quoted, and the answer latency.
    """
    scored: dict[str, list[dict]] = {"all": []}
    numbers, latencies = [], []
    for row in rows:
        started = time.perf_counter()
        answer, docs = assistant.answer_with_sources(
            row.question, row.role, history=[t.model_dump() for t in row.turns]
        )
        latencies.append((time.perf_counter() - started) * 1000)
        result = {**score_row(row, answer, [d.meta["doc_id"] for d in docs]), "answerable": row.answerable}
        scored["all"].append(result)
        scored.setdefault(group(row.language), []).append(result)
        if row.answerable and not answer.refused:
            numbers.append(number_recall(row.reference_answer, answer.answer))
    latencies.sort()
    out: dict = {g: {k: v for k, v in summarize_group(rs).items() if k in KEPT} for g, rs in scored.items()}
    out["all"]["reference_number_recall"] = mean(numbers)
    out["all"]["latency_p50_ms"] = round(latencies[len(latencies) // 2], 1)
    out["all"]["latency_p95_ms"] = round(latencies[int(len(latencies) * 0.95)], 1)
    return out


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
                run = {"embedder": emb, "mode": mode, "not_ingested": failed, "extractive": measure(a, rows)}
                a.close()  # the embedded shard is one process's, one handle at a time
                for gen in [g for g in args.generators if g != "extractive"] if mode == "hybrid" else []:
                    ga = Assistant(s.model_copy(update={"generator": s.generator.model_copy(update={"backend": gen})}))
                    subset = [r for r in rows if r.answerable][: args.llm_rows]
                    run[gen] = measure(ga, subset)
                    ga.close()
                    # The same rows answered extractively, for a like-for-like comparison.
                    extractive = Assistant(s)
                    run["extractive_same_rows"] = measure(extractive, subset)
                    extractive.close()
                results["runs"].append(run)
                print(run)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    dump(results, args.out or ROOT / "bench" / "results" / f"quality-{args.split}.json")


if __name__ == "__main__":
    main()
