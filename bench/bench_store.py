"""Store versions benchmark: what publishing, opening and checking a version of the embedded store cost.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_store.py [--points 10000 50000]

Synthetic points (random unit 384-dim vectors, a ~600-character payload, a small sparse vector) so that only the
store is measured: begin (copy the published version), publish (flush, close, settle, manifest, rename), open a
version for reading (size check and probe), the full checksum comparison done at start-up, and the per-question
stat of every shard file. Writes bench/results/store.json.
"""

import argparse
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from haystack import Document  # noqa: E402
from haystack.dataclasses import SparseEmbedding  # noqa: E402

from assist import store  # noqa: E402
from assist.components.edge_store import EdgeDocumentStore  # noqa: E402
from bench.common import machine, summary_ms, write_result  # noqa: E402

TEXT = "Rutinen beskriver hur personalen gör när en brukare har fallit och inte kan resa sig själv. " * 6


def documents(n: int, start: int = 0) -> list[Document]:
    rng = random.Random(start)
    out = []
    for i in range(start, start + n):
        vec = [rng.gauss(0, 1) for _ in range(384)]
        norm = math.sqrt(sum(x * x for x in vec))
        out.append(Document(
            id=f"{i:032x}", content=TEXT, embedding=[x / norm for x in vec],
            sparse_embedding=SparseEmbedding(indices=[rng.randrange(50000) for _ in range(8)], values=[1.0] * 8),
            meta={"doc_id": f"d{i // 5}", "collection": "general", "source": f"kb/general/d{i // 5}.md"},
        ))
    return out


def data_bytes(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def measure(points: int) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="bench-store-")) / "qdrant"
    try:
        first = EdgeDocumentStore(path=str(root))
        first.begin()
        for start in range(0, points, 5000):
            first.write_documents(documents(min(5000, points - start), start))
        t = time.perf_counter()
        first.publish()
        publish_first_s = time.perf_counter() - t
        name, folder = store.current_version(root)  # type: ignore[misc]
        data_mib = round(data_bytes(folder) / 2**20, 1)
        apparent_mib = round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)

        reader = EdgeDocumentStore(path=str(root), create=False)
        t = time.perf_counter()
        reader.count_documents()
        open_s = time.perf_counter() - t
        t = time.perf_counter()
        reader.verify()
        verify_s = time.perf_counter() - t
        stats = []
        for _ in range(200):
            t = time.perf_counter()
            with reader.pinned():
                pass
            stats.append(time.perf_counter() - t)

        # An update of 1% of the points while the reader holds the published version.
        t = time.perf_counter()
        update = EdgeDocumentStore(path=str(root))
        update.begin()
        begin_s = time.perf_counter() - t
        update.write_documents(documents(max(1, points // 100), points))
        t = time.perf_counter()
        update.publish()
        publish_update_s = time.perf_counter() - t
        t = time.perf_counter()
        reader.count_documents()  # switches to the new version
        switch_s = time.perf_counter() - t
        reader.close()
        return {
            "points": points,
            "version_data_mib": data_mib,
            "version_apparent_mib": apparent_mib,
            "publish_first_s": round(publish_first_s, 3),
            "begin_copy_s": round(begin_s, 3),
            "publish_update_s": round(publish_update_s, 3),
            "open_for_reading_s": round(open_s, 3),
            "switch_to_new_version_s": round(switch_s, 3),
            "full_checksum_and_probe_s": round(verify_s, 3),
            "per_question_stat_check_ms": summary_ms(stats),
            "versions_left": sorted(p.name for p in (root / store.VERSIONS_DIR).iterdir()) == [store.current_version(
                root)[0]],  # type: ignore[index]
        }
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[10000, 50000])
    args = parser.parse_args()
    runs = [measure(n) for n in args.points]
    path = write_result("store", {"machine": machine(), "runs": runs})
    print(path)  # noqa: T201


if __name__ == "__main__":
    main()
