"""Owners' changes benchmark: what adding, replacing and retiring a routine from the owners' page costs, end to end
(file check, sandboxed conversion, ingest into a new store version, publish), over the shipped knowledge.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_owners.py [--runs 3]

Also the inventory read (every chunk's payload fields, then the table) that the owners' page and `assist docs` do.
Writes bench/results/owners.json.
"""

import argparse
import io
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assist.backends import make_document_store  # noqa: E402
from assist.settings import Settings  # noqa: E402
from bench.common import summary_ms, write_result  # noqa: E402
from ingest.pipeline import Ingestor, read_status  # noqa: E402
from owners.inventory import build_inventory, read_payloads  # noqa: E402
from owners.uploads import Actor, RoutineDesk, RoutineFields  # noqa: E402

ACTOR = Actor(token_id="t_bench", role="bench")


def docx(title: str, n: int) -> bytes:
    import docx as python_docx  # noqa: PLC0415

    document = python_docx.Document()
    document.add_heading(title, level=0)
    for i in range(n):
        document.add_paragraph(f"Steg {i + 1}: kontrollera att brukarens entré är fri från is och snö innan du går in.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-owners-"))
    try:
        knowledge = root / "knowledge"
        shutil.copytree(ROOT / "knowledge", knowledge)
        settings = Settings(data_dir=root, knowledge_dir=knowledge)
        ingestor = Ingestor(settings)
        report = ingestor.ingest([knowledge])
        ingestor.close()
        desk = RoutineDesk(settings=settings)
        timings: dict[str, list[float]] = {"add": [], "replace": [], "retire": [], "inventory": []}
        for run in range(args.runs):
            data = docx(f"Halka vid entrén {run}", 40)
            t = time.perf_counter()
            out = desk.add(data, f"halka-{run}.docx", "home_care", RoutineFields(), ACTOR)
            timings["add"].append(time.perf_counter() - t)
            t = time.perf_counter()
            new = desk.replace(out.doc_id, docx(f"Halka vid entrén {run} (ny)", 40), f"halka-{run}-ny.docx",
                               "home_care", RoutineFields(valid_from=date(2099, 1, 1)), ACTOR)
            timings["replace"].append(time.perf_counter() - t)
            t = time.perf_counter()
            store = make_document_store(settings)
            rows = build_inventory(read_payloads(store), read_status(settings), settings.roles)
            store.close()
            timings["inventory"].append(time.perf_counter() - t)
            t = time.perf_counter()
            desk.retire(new.doc_id, "home_care", ACTOR)
            timings["retire"].append(time.perf_counter() - t)
        result = {
            "corpus": {"files": len(report.files), "chunks": report.to_dict()["chunks"], "routines": len(rows)},
            "upload": "a 40-paragraph DOCX",
            "ms": {k: summary_ms(v) for k, v in timings.items()},
        }
        path = write_result("owners", result)
        print(path)  # noqa: T201
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
