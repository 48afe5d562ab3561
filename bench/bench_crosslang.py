"""Cross-language retrieval: hit@5 when the question's and the source's languages differ, against the same language.

Every answerable row of the eval sets is asked through the product's own pipeline (assist.pipeline.Assistant,
extractive generator), as `assist eval` asks it, and hit@5 / MRR are taken over the documents retrieved. Rows are
split by:

- `cross` / `same`: none of the row's reference sources is in the question's language (the source's language is
  the store payload `language`, the question's is the row's `language`) / at least one is;
- `sv` / `other`: the question is in Swedish / in any other language.

Two retrievers are measured on the same store, one after the other: `single_list` (dense candidates ranked as one
list, as before per-language calibration existed; its figures equal the earlier retriever's) and `by_language`
(the configured default: each document language's dense candidates scored against its own best matches). For
each, `retriever_ms` times the retriever alone on the real store (query vectors computed beforehand, title vectors
read from the store: a --store ingested before they were stored embeds its titles as the first questions need them).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_crosslang.py --store PATH [--sets dev test]

Builds a store from knowledge/ unless --store names one (the shard is copied first: it is one process's at a time).
Writes bench/results/crosslang.json.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from assist.evaluation import hit_at_k, ranked_doc_ids, reciprocal_rank  # noqa: E402
from assist.languages import detect_language  # noqa: E402
from assist.pipeline import Assistant, retrieval_query  # noqa: E402
from assist.privacy import scrub  # noqa: E402
from assist.roles import collections_for  # noqa: E402
from assist.settings import QdrantSettings, RetrievalSettings, Settings  # noqa: E402
from bench.common import eval_questions, summary_ms, write_result  # noqa: E402

K = 5
TARGETS = {"sv": 0.95, "other": 0.90, "cross": 0.90}
VARIANTS = {"single_list": {"by_language": False}, "by_language": {}}


def source_languages(assistant: Assistant) -> dict[str, str]:
    """doc_id → the document's language, from the store's payloads."""
    payloads = assistant.document_store.filter_payloads(fields=["meta.doc_id", "meta.language"])
    return {str(p["meta"]["doc_id"]): str(p["meta"].get("language") or "") for p in payloads}


def groups_of(row: dict[str, Any], languages: dict[str, str]) -> list[str]:
    """The splits a row belongs to."""
    cross = row["language"] not in {languages.get(s, "") for s in row["reference_sources"]}
    return ["all", "cross" if cross else "same", "sv" if row["language"] == "sv" else "other"]


def retriever_seconds(assistant: Assistant, rows: list[dict[str, Any]]) -> list[float]:
    """The retriever alone, per question, with the query vectors computed beforehand (as the pipeline feeds it)."""
    comps = {name: assistant.pipeline.get_component(name) for name in ("text_embedder", "sparse_embedder", "retriever")}
    inputs = []
    for row in rows:
        question = scrub(" ".join(row["question"].split())).text
        turns = [{"role": t["role"], "content": scrub(str(t.get("content", ""))).text} for t in row.get("turns") or []]
        language = detect_language(question)
        query = retrieval_query(question, turns[-6:])
        inputs.append({
            "query_embedding": comps["text_embedder"].run(text=query)["embedding"],
            "query_sparse_embedding": comps["sparse_embedder"].run(text=query, language=language)["sparse_embedding"],
            "collections": collections_for(row["role"]),
            "language": language,
        })
    out = []
    for args in inputs:
        started = time.perf_counter()
        comps["retriever"].run(**args)
        out.append(time.perf_counter() - started)
    return out


def measure(settings: Settings, sets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """hit@5 and MRR per split, the misses, and the retriever's time, for one retriever configuration."""
    assistant = Assistant(settings)
    try:
        assistant.warm_up()
        languages = source_languages(assistant)
        result: dict[str, Any] = {}
        timed: list[dict[str, Any]] = []
        for name, rows in sets.items():
            scores: dict[str, dict[str, list[float]]] = {}
            misses = []
            for row in rows:
                _, docs = assistant.answer_with_sources(
                    row["question"], row["role"], history=[dict(t) for t in row.get("turns") or []] or None
                )
                ranked = ranked_doc_ids([str(d.meta.get("doc_id", "")) for d in docs])
                relevant = set(row["reference_sources"])
                hit, rr = hit_at_k(ranked, relevant, K), reciprocal_rank(ranked, relevant)
                for group in groups_of(row, languages):
                    scores.setdefault(group, {"hit": [], "rr": []})
                    scores[group]["hit"].append(hit)
                    scores[group]["rr"].append(rr)
                if not hit:
                    misses.append({
                        "id": row["id"], "language": row["language"], "question": row["question"],
                        "sources": {s: languages.get(s, "") for s in row["reference_sources"]},
                        "top5": ranked[:K],
                    })
            result[name] = {
                "splits": {
                    group: {"n": len(v["hit"]), f"hit@{K}": round(sum(v["hit"]) / len(v["hit"]), 3),
                            "mrr": round(sum(v["rr"]) / len(v["rr"]), 3)}
                    for group, v in sorted(scores.items())
                },
                "misses": misses,
            }
            timed += rows
        result["retriever_ms"] = summary_ms(retriever_seconds(assistant, timed))
        return result
    finally:
        assistant.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="An ingested shard of knowledge/ (copied first).")
    parser.add_argument("--sets", nargs="+", default=["dev", "test"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-crosslang-"))
    try:
        store = work / "qdrant"
        if args.store:
            shutil.copytree(args.store, store)
        else:
            from ingest.pipeline import Ingestor  # noqa: PLC0415 - only when no store is given

            ingestor = Ingestor(Settings(data_dir=work, qdrant=QdrantSettings(path=store)))
            ingestor.ingest([ROOT / "knowledge"])
            ingestor.close()
        sets = {name: [r for r in eval_questions(name) if r.get("answerable", True)] for name in args.sets}
        variants = {}
        for variant, overrides in VARIANTS.items():
            retrieval = RetrievalSettings(**{**RetrievalSettings().model_dump(), **overrides})
            settings = Settings(data_dir=work, qdrant=QdrantSettings(path=store), retrieval=retrieval)
            variants[variant] = measure(settings, sets)
            for name in sets:
                splits = variants[variant][name]["splits"]
                print(f"{variant:>12} {name:>5}: " + "  ".join(
                    f"{g} {s[f'hit@{K}']:.3f} (n={s['n']})" for g, s in splits.items()), flush=True)
            print(f"{variant:>12} retriever p50 {variants[variant]['retriever_ms']['p50']} ms "
                  f"p95 {variants[variant]['retriever_ms']['p95']} ms", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    best = variants["by_language"]
    result = {
        "description": f"hit@{K} and MRR of the answerable eval rows through the pipeline (extractive), split by "
                       "question language against source language (cross / same) and Swedish / other questions; "
                       "single_list = dense candidates as one list, by_language = per-language calibration (default)",
        "variants": variants,
        "targets": TARGETS,
        "targets_met": {
            name: {g: best[name]["splits"].get(g, {}).get(f"hit@{K}", 0.0) >= t for g, t in TARGETS.items()}
            for name in sets
        },
    }
    print(write_result("crosslang", result, args.out))


if __name__ == "__main__":
    main()
