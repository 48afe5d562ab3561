"""Retrieval latency on the embedded store at several corpus sizes: hybrid dense + BM25 (RRF) with the role filter.

Synthetic chunks: random unit vectors (dim 384) and BM25 sparse vectors of text drawn from the words of the
knowledge folder (Zipf-weighted, so it reads like Swedish routines); each chunk in one of the four collections.
The store grows 1k → 10k → 100k in place (written in batches, then optimized); at each size the eval questions
are asked for the role `home-care` (collections home_care + general), top_k 8:

- `store_only`: the hybrid query alone, both query vectors computed beforehand (query embedding excluded);
- `end_to_end`: the real e5 query embedding + BM25 query vector + the hybrid query (included);
- `retriever`: the pipeline's ScopedRetriever as configured by default (32 hybrid candidates with the replaced-routine
  exclusion inside the query, their vectors, the other-collections probe, title re-ranking with the title vectors
  stored at ingest, as `assist ingest` stores them), query vectors computed beforehand;
- `after_restart`: the store closed and opened again (`open_s`) and a new retriever, whose title embedder fails if
  it is ever run, answering its first questions (`retriever_after_restart_ms`): what the first questions after a
  restart of the service wait for retrieval;
- `title_embed_ms`: what one title costs where a store has no stored title vector (one ingested before they were);
- `rss_mib`: the process's resident memory after the measurements at that size (the store's pages it touched, the
  models, the process).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_retrieval.py [--sizes 1000 10000 100000] [--queries 200]

Writes bench/results/retrieval.json. Dense scores against random vectors are meaningless: this measures time only.
"""

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from haystack import Document  # noqa: E402
from haystack.dataclasses import SparseEmbedding  # noqa: E402
from haystack.document_stores.types import DuplicatePolicy  # noqa: E402

from assist.components.bm25_embedder import Bm25TextSparseEmbedder, _model  # noqa: E402
from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder  # noqa: E402
from assist.components.edge_store import EdgeDocumentStore  # noqa: E402
from assist.components.retriever import ScopedRetriever  # noqa: E402
from assist.components.title_embedder import encode_title_vector  # noqa: E402
from assist.settings import RetrievalSettings  # noqa: E402
from bench.common import eval_questions, rss_mib, summary_ms, write_result  # noqa: E402

DIM = 384
COLLECTIONS = ["home_care", "preschool", "library", "general"]
ROLE_FILTER = {"field": "meta.collection", "operator": "in", "value": ["home_care", "general"]}
TARGETS_MS = {"store_only_p95_at_100k": 10.0, "end_to_end_p95_at_100k": 60.0, "retriever_p95_at_100k": 10.0,
              "retriever_after_restart_p95_at_100k": 30.0, "retriever_p95_at_1m": 100.0,
              "retriever_after_restart_p95_at_1m": 100.0}


def vocabulary() -> tuple[list[str], list[float]]:
    """Words of the knowledge folder with Zipf weights by frequency rank."""
    counts: dict[str, int] = {}
    for path in (ROOT / "knowledge").rglob("*"):
        if path.suffix in {".md", ".txt", ".html"}:
            for word in re.findall(r"[a-zåäöéü]{2,}", path.read_text(encoding="utf-8", errors="ignore").lower()):
                counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=counts.get, reverse=True)  # type: ignore[arg-type]
    return words, [1.0 / (rank + 1) for rank in range(len(words))]


def doc_title(doc: int, words: list[str]) -> str:
    """One title per synthetic document (8 chunks), as a real routine's chunks share its title."""
    picks = random.Random(doc).choices(words[:500], k=3)
    return f"Rutin {doc}: " + " ".join(picks)


def synthetic_chunks(start: int, n: int, rng: random.Random, nrng: np.random.Generator,
                     words: list[str], weights: list[float]) -> list[Document]:
    vectors = nrng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    bm25 = _model("sv")
    docs = []
    for i in range(n):
        text = " ".join(rng.choices(words, weights, k=rng.randint(40, 120)))
        sparse = bm25.embed_document(text)
        docs.append(Document(
            id=f"synthetic-{start + i}",
            content=text,
            embedding=vectors[i].tolist(),
            sparse_embedding=SparseEmbedding(indices=list(sparse.indices), values=list(sparse.values)),
            meta={"collection": COLLECTIONS[(start + i) % 4], "doc_id": f"doc-{(start + i) // 8}", "language": "sv",
                  "title": (title := doc_title((start + i) // 8, words)), "replaces": "",
                  "title_vector": encode_title_vector(title, title_vector((start + i) // 8))},
        ))
    return docs


def title_vector(doc: int) -> np.ndarray:
    """A random unit vector per synthetic document: its chunks share it, as they share their title."""
    v = np.random.default_rng(doc).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class RefusingTitleEmbedder(E5DocumentEmbedder):
    """Stands for the title embedder where every title vector is stored: running it is a failure of the bench."""

    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        msg = f"a title was embedded at query time ({len(documents)} of them): the stored vectors were not used"
        raise AssertionError(msg)


def default_retriever(store: EdgeDocumentStore) -> ScopedRetriever:
    """The pipeline's retriever as configured by default, over stored title vectors only."""
    defaults = RetrievalSettings()
    return ScopedRetriever(document_store=store, top_k=defaults.top_k, candidates=defaults.candidates,
                           per_doc=defaults.per_doc, title_embedder=RefusingTitleEmbedder())


def after_restart(path: Path, questions: list[str], dense: list[list[float]], sparse: list[SparseEmbedding],
                  first: int) -> tuple[EdgeDocumentStore, dict[str, Any]]:
    """The store opened again and a fresh retriever's first `first` questions (nothing cached)."""
    started = time.perf_counter()
    store = EdgeDocumentStore(path=str(path), embedding_dim=DIM, create=False)
    store.count_documents()  # opens the version and checks it, as the service's start does
    open_s = time.perf_counter() - started
    retriever = default_retriever(store)
    times = []
    for i in range(min(first, len(questions))):
        started = time.perf_counter()
        retriever.run(dense[i], sparse[i], collections=ROLE_FILTER["value"], language="sv")
        times.append(time.perf_counter() - started)
    return store, {"open_s": round(open_s, 2), "retriever_after_restart_ms": summary_ms(times)}


def measure(store: EdgeDocumentStore, questions: list[str], dense: list[list[float]],
            sparse: list[SparseEmbedding], e5: E5TextEmbedder, bm25: Bm25TextSparseEmbedder) -> dict[str, Any]:
    for i in range(min(20, len(questions))):  # warm the caches and the index pages
        store.query_hybrid(dense[i], sparse[i], filters=ROLE_FILTER, top_k=8)
    only, full, hits = [], [], []
    for i in range(len(questions)):
        started = time.perf_counter()
        docs = store.query_hybrid(dense[i], sparse[i], filters=ROLE_FILTER, top_k=8)
        only.append(time.perf_counter() - started)
        hits.append(len(docs))
        assert all(d.meta.get("collection") in ROLE_FILTER["value"] for d in docs), "the role filter leaked"
    for question in questions:
        started = time.perf_counter()
        q_dense = e5.run(question)["embedding"]
        q_sparse = bm25.run(question, language="sv")["sparse_embedding"]
        store.query_hybrid(q_dense, q_sparse, filters=ROLE_FILTER, top_k=8)
        full.append(time.perf_counter() - started)
    retriever = default_retriever(store)
    titles = retriever.stored_titles()
    sample = titles[:64]
    started = time.perf_counter()
    E5DocumentEmbedder().run([Document(content=t) for t in sample])
    title_embed_ms = (time.perf_counter() - started) * 1000 / max(len(sample), 1)
    scoped = []
    for i in range(len(questions)):
        started = time.perf_counter()
        docs = retriever.run(dense[i], sparse[i], collections=ROLE_FILTER["value"], language="sv")["documents"]
        scoped.append(time.perf_counter() - started)
        assert all(d.meta.get("collection") in ROLE_FILTER["value"] for d in docs), "the role filter leaked"
    return {"store_only_ms": summary_ms(only), "end_to_end_ms": summary_ms(full), "retriever_ms": summary_ms(scoped),
            "title_embed_ms": round(title_embed_ms, 2), "titles": len(titles),
            "mean_hits": round(sum(hits) / len(hits), 2)}


def targets_met(sizes: list[dict[str, Any]]) -> dict[str, bool]:
    """Each target judged at its own size (100k or 1M), where that size was measured."""
    met: dict[str, bool] = {}
    for name, limit in TARGETS_MS.items():
        figure, _, size = name.rpartition("_p95_at_")
        rows = [r for r in sizes if r["chunks"] == {"100k": 100_000, "1m": 1_000_000}[size]]
        if rows:
            met[name] = rows[0][f"{figure}_ms"]["p95"] <= limit
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="Questions asked at each size.")
    parser.add_argument("--first", type=int, default=50, help="Questions timed right after a restart.")
    parser.add_argument("--batch", type=int, default=5_000, help="Chunks generated and written per batch.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    rng, nrng = random.Random(7), np.random.default_rng(7)
    words, weights = vocabulary()
    rows = eval_questions("test") + eval_questions("dev")
    questions = [r["question"] for r in rows][: args.queries]
    e5, bm25 = E5TextEmbedder(), Bm25TextSparseEmbedder()
    e5.warm_up()
    dense = [e5.run(q)["embedding"] for q in questions]
    sparse = [bm25.run(q, language="sv")["sparse_embedding"] for q in questions]

    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    sizes: list[dict[str, Any]] = []
    try:
        store = EdgeDocumentStore(path=str(work / "shard"), embedding_dim=DIM, write_batch_size=1_000)
        have = 0
        for size in sorted(args.sizes):
            started = time.perf_counter()
            while have < size:
                n = min(args.batch, size - have)
                store.write_documents(synthetic_chunks(have, n, rng, nrng, words, weights),
                                      policy=DuplicatePolicy.OVERWRITE)
                have += n
            write_s = time.perf_counter() - started
            started = time.perf_counter()
            store.optimize()
            optimize_s = time.perf_counter() - started
            store.close()  # published, as an ingest leaves it; the service starts on it
            store, restart = after_restart(work / "shard", questions, dense, sparse, args.first)
            figures = measure(store, questions, dense, sparse, e5, bm25)
            row = {"chunks": store.count_documents(), "build_write_s": round(write_s, 1),
                   "optimize_s": round(optimize_s, 1), **restart, **figures, "rss_mib": round(rss_mib(), 1)}
            sizes.append(row)
            store.close()
            store = EdgeDocumentStore(path=str(work / "shard"), embedding_dim=DIM, write_batch_size=1_000)
            print(f"{row['chunks']:>7} chunks: after a restart p95 "
                  f"{restart['retriever_after_restart_ms']['p95']} ms (open {restart['open_s']} s); store-only p50 "
                  f"{figures['store_only_ms']['p50']} ms "
                  f"p95 {figures['store_only_ms']['p95']} ms; with query embedding p50 "
                  f"{figures['end_to_end_ms']['p50']} ms p95 {figures['end_to_end_ms']['p95']} ms; retriever p50 "
                  f"{figures['retriever_ms']['p50']} ms p95 {figures['retriever_ms']['p95']} ms", flush=True)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "description": "hybrid dense + BM25 sparse, RRF, role filter home-care (home_care + general), top_k 8, "
                       "embedded Qdrant Edge shard; synthetic chunks (random unit vectors, Zipf text)",
        "queries": len(questions),
        "sizes": sizes,
        "targets_ms": TARGETS_MS,
        "targets_met": targets_met(sizes),
    }
    print(write_result("retrieval", result, args.out))


if __name__ == "__main__":
    main()
