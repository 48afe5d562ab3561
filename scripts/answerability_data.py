"""Collects the answerability model's examples: labelled (question, routine sentence) pairs and question-level rows.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/answerability_data.py --store data/qdrant \
        --rows eval_sets/train.jsonl --out data/answerability/train.npz

Each question is retrieved as the product retrieves it (its role's collections, the embedded store of knowledge/);
every sentence (or table row) of the top routines' passages becomes a pair with the question, labelled:
- 1: the sentence says what the question's `evidence` says (an answerable row's reference routine, its quoted
  answer found in the sentence);
- 0: any sentence of a routine that is not a reference source, and every sentence for a near-miss question;
- sentences of a reference routine that do not carry the evidence are kept with label -1 (the routine's other
  steps: unlabelled, left out of the fit).
The vectors are the store's own: the question embedded as the product embeds it, the sentences' vectors stored at
ingest. Nothing here runs in the product; `scripts/train_answerability.py` fits the model on the result.
"""

import argparse
import json
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from assist.components.unit_embedder import stored_unit_vectors  # noqa: E402
from assist.grounding import by_routine, passage_units  # noqa: E402
from assist.languages import detect_language  # noqa: E402
from assist.pipeline import Assistant, retrieval_query  # noqa: E402
from scripts.calibrate import neutral_assistant  # noqa: E402

#: Routines of the retrieved set whose sentences become pairs (the gate reads the top three).
TOP_ROUTINES = 3
#: Share of an evidence string's words a sentence must hold to carry it (table rows are quoted with their headers,
#: list items without their markers, so the match is by words, not characters).
EVIDENCE_SHARE = 0.8
_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers, markup and punctuation dropped."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def carries(unit: str, evidence: list[str]) -> bool:
    """Does the sentence hold (most of) one evidence string, or is it (most of) a part of a longer one?"""
    u = tokens(unit)
    us = set(u)
    for e in evidence:
        es = tokens(e)
        if not es:
            continue
        if sum(t in us for t in es) >= EVIDENCE_SHARE * len(es):
            return True
        if len(u) >= 4 and sum(t in set(es) for t in u) >= EVIDENCE_SHARE * len(u):
            return True
    return False


def load_train_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def add_pairs(  # noqa: PLR0913 - one question's pairs, appended to the shared lists
    pairs: dict[str, list[Any]],
    groups: dict[str, list[Any]],
    ranked: list[str],
    refs: set[str],
    row: dict[str, Any],
    vi: int,
    question: int,
) -> None:
    """Every sentence of the top routines, labelled against the question's evidence."""
    q_dim = 384
    for rank, doc_id in enumerate(ranked[:TOP_ROUTINES], start=1):
        seen: set[str] = set()
        for chunk in groups[doc_id]:
            units = passage_units(chunk.content or "")
            vecs = stored_unit_vectors(chunk, units, q_dim)
            if vecs is None:
                continue
            for u, v in zip(units, vecs, strict=True):
                if u in seen:
                    continue
                seen.add(u)
                y = (1 if carries(u, row.get("evidence", [])) else -1) if doc_id in refs else 0
                pairs["q"].append(vi)
                pairs["unit"].append(v.astype(np.float32))
                pairs["label"].append(y)
                pairs["question"].append(question)
                pairs["doc"].append(doc_id)
                pairs["rank"].append(rank)
                pairs["same_lang"].append(int(row["language"] == str(chunk.meta.get("language", "sv"))))


def collect(assistant: Assistant, rows: list[dict[str, Any]], leave_out: bool) -> dict[str, Any]:
    """Pairs and question rows for `rows` (see the module docstring)."""
    retriever = assistant.pipeline.get_component("retriever")
    gate = assistant.pipeline.get_component("gate")
    embedder = assistant.pipeline.get_component("text_embedder")
    base_replaced = retriever.replaced
    pairs: dict[str, list[Any]] = {k: [] for k in ("q", "unit", "label", "question", "doc", "rank", "same_lang")}
    questions: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    for qi, row in enumerate(rows):
        turns = [t if isinstance(t, dict) else dict(t) for t in row.get("turns", [])]
        variants = [("asked", [])]
        if leave_out and row["answerable"]:
            variants.append(("source_left_out", list(row["reference_sources"])))
        for kind, excluded in variants:
            retriever.replaced = (lambda ex=excluded: sorted({*base_replaced(), *ex})) if excluded else base_replaced
            try:
                answer, docs = assistant.answer_with_sources(row["question"], row["role"], history=turns)
            finally:
                retriever.replaced = base_replaced
            query = retrieval_query(row["question"], [])
            q = np.asarray(embedder.run(text=query)["embedding"], dtype=np.float32)
            groups = by_routine(docs)
            ranked = list(groups)
            refs = set(row["reference_sources"]) if kind == "asked" and row["answerable"] else set()
            label = int(bool(refs & set(ranked[:5])))
            collections = assistant.roles.collections_for(row["role"], assistant.collections)
            assessment = gate.assess(query, docs, detect_language(row["question"]), collections, q)
            vi = len(vectors)
            vectors.append(q)
            questions.append({
                "id": row["id"], "kind": kind, "label": label, "status": answer.status,
                "language": row["language"], "features": assessment.features,
                "routines": ranked[:TOP_ROUTINES], "refs": sorted(refs), "vector": vi,
                "doc_languages": {k: str(groups[k][0].meta.get("language", "sv")) for k in ranked[:TOP_ROUTINES]},
            })
            add_pairs(pairs, groups, ranked, refs, row, vi, len(questions) - 1)
        if qi % 50 == 0:
            print(f"{qi}/{len(rows)}", file=sys.stderr)  # noqa: T201
    return {"pairs": pairs, "questions": questions, "vectors": vectors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True, help="ingested store of knowledge/")
    ap.add_argument("--rows", type=Path, action="append", required=True, help="JSONL rows (train, dev); repeatable")
    ap.add_argument("--out", type=Path, required=True, help="the examples (.npz) and their questions (.json beside)")
    ap.add_argument("--no-leave-out", action="store_true", help="skip the leave-the-source-out variants")
    args = ap.parse_args()
    rows = [r for p in args.rows for r in load_train_rows(p)]
    if any(str(r["id"]).startswith("test-") for r in rows):
        raise SystemExit("The test split is for reporting: collect from train and dev only.")
    with neutral_assistant(args.store) as assistant:
        data = collect(assistant, rows, leave_out=not args.no_leave_out)
    p = data["pairs"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        questions=np.stack(data["vectors"]) if data["vectors"] else np.zeros((0, 384), np.float32),
        units=np.stack(p["unit"]) if p["unit"] else np.zeros((0, 384), np.float32),
        q=np.asarray(p["q"], np.int32), label=np.asarray(p["label"], np.int8),
        rank=np.asarray(p["rank"], np.int8), same_lang=np.asarray(p["same_lang"], np.int8),
    )
    meta = {"questions": data["questions"], "pair_docs": p["doc"], "rows": [str(x) for x in args.rows]}
    args.out.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    labels = np.asarray(p["label"])
    print(json.dumps({"questions": len(data["questions"]), "pairs": len(labels), "positive": int((labels == 1).sum()),  # noqa: T201
                      "negative": int((labels == 0).sum()), "unlabelled": int((labels == -1).sum())}))


if __name__ == "__main__":
    main()
