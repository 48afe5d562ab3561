"""Measures splitting Swedish compounds for the BM25 side of retrieval (issue: "worth measuring").

The splitter tried: a word of 8+ letters that is rare or absent in the corpus is split once into two parts that
both occur as words in the corpus (a linking -s allowed: "semesterdagar" → "semester dagar",
"hemtjänstpersonal" → "hemtjänst personal"), and the parts are added to the text before qdrant-edge's Swedish
BM25 stems it, on the chunks and on the question alike. The dictionary is the corpus's own vocabulary, so no
word list is installed.

Both stores get the same real ingest (knowledge/, e5 dense vectors); only their sparse vectors differ. Swedish
questions (by lingua) of eval_sets, role filter and replaced-routine exclusion inside every query, as in the
pipeline; sparse and hybrid (RRF) modes, chunk ranks turned into document ranks as `assist eval` does.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/compound_split.py

Writes bench/results/compound-split.json.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from dataclasses import replace  # noqa: E402

from haystack.dataclasses import SparseEmbedding  # noqa: E402

from assist.components.bm25_embedder import Bm25TextSparseEmbedder, _model  # noqa: E402
from assist.components.e5_embedder import E5TextEmbedder, embedding_text  # noqa: E402
from assist.components.edge_store import EdgeDocumentStore  # noqa: E402
from assist.components.retriever import replaced_doc_ids, scope_filter  # noqa: E402
from assist.evaluation import hit_at_k, load_rows, mean, ranked_doc_ids, reciprocal_rank  # noqa: E402
from assist.languages import detect_language  # noqa: E402
from assist.pipeline import retrieval_query  # noqa: E402
from assist.roles import collections_for  # noqa: E402
from assist.settings import Settings  # noqa: E402
from bench.common import write_result  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402

WORD = re.compile(r"[a-zåäöéü]+")


class CompoundSplitter:
    """Splits a rare long word into two corpus words, once."""

    def __init__(self, texts: list[str], min_len: int = 8):
        self.vocab = Counter(w for t in texts for w in WORD.findall(t.lower()))
        self.min_len = min_len

    def split(self, word: str) -> list[str]:
        if len(word) < self.min_len or self.vocab[word] >= 2:
            return []
        best: tuple[int, str, str] | None = None
        for i in range(3, len(word) - 3):
            head, tail = word[:i], word[i:]
            for h in (head, head[:-1] if head.endswith("s") else ""):
                if len(h) >= 3 and self.vocab[h] and self.vocab[tail] and (best is None or len(tail) > best[0]):
                    best = (len(tail), h, tail)
        return [best[1], best[2]] if best else []

    def expand(self, text: str) -> str:
        parts = [p for w in WORD.findall(text.lower()) for p in self.split(w)]
        return f"{text} {' '.join(parts)}" if parts else text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="compound-"))
    try:
        settings = Settings(data_dir=tmp, qdrant={"path": tmp / "plain"})
        ingestor = Ingestor(settings)
        ingestor.ingest([ROOT / "knowledge"])
        ingestor.close()
        plain = EdgeDocumentStore(path=str(tmp / "plain"), create=False)
        docs = plain.filter_documents()
        splitter = CompoundSplitter([embedding_text(d) for d in docs])
        split = EdgeDocumentStore(path=str(tmp / "split"))
        resparsed = []
        for d in docs:
            vec = _model(d.meta.get("language", "sv")).embed_document(splitter.expand(embedding_text(d)))
            resparsed.append(replace(d, sparse_embedding=SparseEmbedding(list(vec.indices), list(vec.values))))
        split.write_documents(resparsed)
        replaced = sorted(replaced_doc_ids(plain.filter_payloads()))
        rows = [r for r in load_rows([ROOT / "eval_sets" / f"{s}.jsonl" for s in ("dev", "test")]) if r.answerable]
        e5, bm25 = E5TextEmbedder(), Bm25TextSparseEmbedder()
        results: dict[str, Any] = {"splits_in_corpus": sum(bool(splitter.split(w)) for w in splitter.vocab)}
        for name, store, expand in (("plain", plain, False), ("compound_split", split, True)):
            for mode in ("sparse", "hybrid"):
                for subset in ("dev", "test"):
                    hits, rrs = [], []
                    for row in [r for r in rows if r.id.startswith(subset)]:
                        query = retrieval_query(row.question, [t.model_dump() for t in row.turns])
                        if detect_language(row.question) != "sv":
                            continue
                        flt = scope_filter(collections_for(row.role), replaced)
                        sparse = bm25.run(splitter.expand(query) if expand else query, language="sv")
                        if mode == "sparse":
                            got = store.query_by_sparse(sparse["sparse_embedding"], filters=flt, top_k=32)
                        else:
                            dense = e5.run(query)["embedding"]
                            got = store.query_hybrid(dense, sparse["sparse_embedding"], filters=flt, top_k=32)
                        ranked = ranked_doc_ids([d.meta["doc_id"] for d in got])
                        hits.append(hit_at_k(ranked, set(row.reference_sources), 5))
                        rrs.append(reciprocal_rank(ranked, set(row.reference_sources)))
                    results[f"{name}/{mode}/{subset}"] = {
                        "questions": len(hits), "hit@5": mean(hits), "mrr": mean(rrs)
                    }
                    print(name, mode, subset, results[f"{name}/{mode}/{subset}"], flush=True)
        plain.close()
        split.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(write_result("compound-split", results, args.out))


if __name__ == "__main__":
    main()
