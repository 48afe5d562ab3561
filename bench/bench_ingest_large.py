"""Large-file ingest benchmark: peak memory and write progress of one big .txt, and resume after a kill.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_ingest_large.py [--mb 50] [--cap-s 240] [--resume-mb 0.5]

1. `assist ingest` (as a process) of a generated --mb MB .txt, stopped after --cap-s seconds when it has not
   finished: peak RSS of the ingest process and of its conversion child (sampled from /proc), seconds until the first
   chunks are on disk, chunks written and the rate, and the extrapolated time for the whole file.
2. A generated --resume-mb MB .txt ingested to the end once (the clean state); then again into a fresh store, killed
   (SIGKILL) half-way through and run again: how many chunks the second run embedded, and whether the store ends as
   the clean run left it.

Writes bench/results/ingest-large.json with the figures and the machine they were measured on.
"""

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from bench.bench_ingest import machine  # noqa: E402
from bench.common import rss_mib  # noqa: E402

logger = logging.getLogger("bench_ingest_large")
SCRIPT = (
    "import sys; from pathlib import Path; from ingest.cli import run_ingest;"
    "sys.exit(run_ingest([Path(sys.argv[1])], store=Path(sys.argv[2]), as_json=True))"
)
# The same ingest with the dense model swapped for a hash of the text (a unit vector per chunk): everything else is
# real (conversion child, splitting, BM25, the store's writes, the batching), so the whole of a large file runs
# through in minutes and its memory and resume behaviour can be measured end to end on a small machine.
FAST_SCRIPT = """
import hashlib, json, sys
from pathlib import Path
import numpy as np
from haystack import Document, Pipeline, component
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy
from dataclasses import replace
from assist.components.bm25_embedder import Bm25DocumentSparseEmbedder
from assist.settings import settings_for
from ingest.pipeline import Ingestor

@component
class HashEmbedder:
    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]):
        out = []
        for d in documents:
            seed = int.from_bytes(hashlib.sha256(d.content.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(384)
            out.append(replace(d, embedding=(v / np.linalg.norm(v)).tolist()))
        return {"documents": out}

ing = Ingestor(settings_for(Path(sys.argv[2])))
p = Pipeline()
p.add_component("embedder", HashEmbedder())
p.add_component("sparse_embedder", Bm25DocumentSparseEmbedder())
p.add_component("writer", DocumentWriter(document_store=ing.store, policy=DuplicatePolicy.OVERWRITE))
p.connect("embedder.documents", "sparse_embedder.documents")
p.connect("sparse_embedder.documents", "writer.documents")
ing.pipeline = p
report = ing.ingest([Path(sys.argv[1])])
ing.close()
print(json.dumps(report.to_dict(), ensure_ascii=False))
"""
WORDS = [
    "personalen", "kontrollerar", "punkt", "i", "listan", "och", "skriver", "upp", "resultatet", "journalen",
    "avvikelse", "rapporteras", "samma", "dag", "till", "chefen", "som", "följer", "den", "inom", "en", "vecka",
    "brukaren", "larmet", "nyckeln", "medicinen",
]


def write_text(path: Path, megabytes: float) -> None:
    """A plain-text routine of distinct paragraphs, about `megabytes` MB of UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1024 * 1024)
    written = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("Lång rutin\n\n")
        n = 0
        while written < target:
            words = " ".join(WORDS[(n * 7 + i) % len(WORDS)] for i in range(40))
            para = f"Steg {n}: {words.capitalize()}. Kontroll {n} är klar.\n\n"
            f.write(para)
            written += len(para.encode())
            n += 1


def tree_rss_mb(pid: int) -> dict[str, float]:
    """Resident MB of a process and, summed, of its children."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return {"self": rss_mib(pid), "children": sum(rss_mib(c) for c in children)}


def count_points(store: Path) -> int:
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415

    s = EdgeDocumentStore(path=str(store), create=False)
    try:
        return len(s.filter_payloads(fields=["meta.chunk"])) if s.exists() else 0
    finally:
        s.close()


def state(store: Path) -> set[tuple[str, int, str, str]]:
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415

    s = EdgeDocumentStore(path=str(store), create=False)
    try:
        return {(m["meta"]["doc_id"], m["meta"]["chunk"], m["meta"]["content_hash"], m["meta"]["file_hash"])
                for m in s.filter_payloads()}
    finally:
        s.close()


def ingest(kb: Path, store: Path, cap_s: float | None, *, fast: bool = False) -> dict[str, object]:
    """One `assist ingest --json` process, sampled every 0.5 s and killed after `cap_s` seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", FAST_SCRIPT if fast else SCRIPT, str(kb), str(store)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = {"self": 0.0, "children": 0.0}
    while proc.poll() is None:
        now = tree_rss_mb(proc.pid)
        peak = {k: max(peak[k], now[k]) for k in peak}
        if cap_s is not None and time.perf_counter() - t0 > cap_s:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.5)
    out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    report = json.loads(out) if proc.returncode in (0, 1) and out.strip() else None
    return {"seconds": round(seconds, 1), "returncode": proc.returncode, "killed": proc.returncode == -signal.SIGKILL,
            "peak_rss_mb": round(peak["self"], 1), "peak_rss_conversion_child_mb": round(peak["children"], 1),
            "report": report}


def large_file(mb: float, cap_s: float, work: Path) -> dict[str, object]:
    kb = work / "large"
    if not (kb / "general" / "lang.txt").exists():
        write_text(kb / "general" / "lang.txt", mb)
    from ingest.convert import convert  # noqa: PLC0415
    from ingest.split import split_pages  # noqa: PLC0415

    t0 = time.perf_counter()
    src = convert(kb / "general" / "lang.txt")
    chunks = len(split_pages([(p.text, p.number) for p in src.pages]))
    convert_split_s = time.perf_counter() - t0
    del src
    run = ingest(kb, work / "large-store", cap_s)
    written = count_points(work / "large-store")
    rate = written / max(run["seconds"] - convert_split_s, 1e-6)  # type: ignore[operator]
    return {
        "file_mb": round((kb / "general" / "lang.txt").stat().st_size / 1048576, 1), "chunks": chunks,
        "convert_and_split_seconds_in_process": round(convert_split_s, 1), **run,
        "chunks_on_disk_at_end": written, "chunks_per_s": round(rate, 2),
        "estimated_full_run_hours": round(chunks / rate / 3600, 2) if rate else None,
    }


def resume(mb: float, work: Path, *, fast: bool = False) -> dict[str, object]:
    """A clean run; then a run killed half-way (by the clean run's time) and a second run on the same store."""
    kb = work / f"resume-{mb}"
    if not (kb / "general" / "lang.txt").exists():
        write_text(kb / "general" / "lang.txt", mb)
    clean = ingest(kb, work / f"clean-{mb}-{fast}", None, fast=fast)
    total = clean["report"]["chunks"]  # type: ignore[index]
    store = work / f"resumed-{mb}-{fast}"
    killed_after = 0.5 * float(clean["seconds"])  # type: ignore[arg-type]
    first = ingest(kb, store, killed_after, fast=fast)
    on_disk = count_points(store)
    second = ingest(kb, store, None, fast=fast)
    notes = second["report"]["files"][0]["notes"] if second["report"] else []  # type: ignore[index]
    return {
        "dense_embedder": "sha256 of the text (stand-in)" if fast else "multilingual-e5-small",
        "file_mb": mb, "chunks": total, "clean_run_seconds": clean["seconds"],
        "clean_run_peak_rss_mb": clean["peak_rss_mb"],
        "clean_run_peak_rss_conversion_child_mb": clean["peak_rss_conversion_child_mb"],
        "killed_after_seconds": round(killed_after, 1), "chunks_on_disk_after_kill": on_disk,
        "rerun_seconds": second["seconds"], "rerun_notes": notes,
        "rerun_peak_rss_mb": second["peak_rss_mb"],
        "ends_as_clean_run": state(store) == state(work / f"clean-{mb}-{fast}"), "first_killed": first["killed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--cap-s", type=float, default=240.0)
    parser.add_argument("--resume-mb", type=float, default=0.5)
    parser.add_argument("--skip-real", action="store_true", help="only the runs with the stand-in dense embedder")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest-large.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-large-"))
    try:
        result: dict[str, object] = {"machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if not args.skip_real:
            result["large_file"] = large_file(args.mb, args.cap_s, work)
            logger.info("large file: %s", result["large_file"])
            result["resume"] = resume(args.resume_mb, work)
            logger.info("resume: %s", result["resume"])
        result["large_file_whole_stand_in_embedder"] = resume(args.mb, work, fast=True)
        logger.info("large file, stand-in embedder: %s", result["large_file_whole_stand_in_embedder"])
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))  # noqa: T201


if __name__ == "__main__":
    main()
