"""The first question in each language after a start, against the second one: what a language's first asker waits
for beyond a normal answer (word lists, translation tables, detector models loaded on first use).

Each run is a fresh process, as a service worker is after a start: it builds the pipeline on the store, warms it up
as `assist serve` does, lets the background warm-ups finish (a question rarely comes in the first seconds), then asks
one dev question in each language (`first_ms`), then another (`second_ms`). The difference is the language's
first-use cost. The process's resident memory after all languages is reported, and, with `--cold`, how long a
machine's first start spends building the word lists (once per machine).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_first_questions.py --store PATH [--runs 3] [--cold]

Writes bench/results/first-questions.json (or --out).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench.common import eval_questions, rss_mib, write_result  # noqa: E402


def questions_by_language() -> dict[str, list[dict[str, Any]]]:
    """Two dev questions per language, in the order the set has them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in eval_questions("dev"):
        if not row.get("turns") and len(out.setdefault(row["language"], [])) < 2:
            out[row["language"]].append(row)
    return {lang: rows for lang, rows in out.items() if len(rows) == 2}


def one_run(store: str) -> dict[str, Any]:
    """In this process: start, warm up, then the first and second question of each language."""
    from assist.pipeline import Assistant  # noqa: PLC0415
    from assist.settings import QdrantSettings, Settings  # noqa: PLC0415

    started = time.perf_counter()
    assistant = Assistant(Settings(data_dir=Path(tempfile.mkdtemp()), qdrant=QdrantSettings(path=Path(store))))
    assistant.warm_up()
    warm_up_s = time.perf_counter() - started
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.daemon and "warm" in thread.name:
            thread.join()
    background_s = time.perf_counter() - started
    time.sleep(1.0)
    rows = questions_by_language()
    first: dict[str, float] = {}
    second: dict[str, float] = {}
    for position, into in ((0, first), (1, second)):
        for lang, pair in rows.items():
            t = time.perf_counter()
            assistant.ask(pair[position]["question"], pair[position]["role"])
            into[lang] = round((time.perf_counter() - t) * 1000, 1)
    return {"warm_up_s": round(warm_up_s, 2), "background_warm_up_s": round(background_s, 2), "first_ms": first,
            "second_ms": second, "rss_mib": round(rss_mib(), 1)}


def cold_build_s() -> float | None:
    """Seconds to build the served languages' word lists into an empty cache (a machine's first start)."""
    try:
        from assist import lemmas  # noqa: PLC0415
    except ImportError:  # a version that reads simplemma's dictionaries into each process
        return None
    from assist.languages import LANGUAGE_NAMES  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        os.environ[lemmas.CACHE_ENV] = folder
        started = time.perf_counter()
        lemmas.warm_up(LANGUAGE_NAMES)
        return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="An ingested store (the knowledge folder).")
    parser.add_argument("--runs", type=int, default=3, help="Fresh processes, each one start.")
    parser.add_argument("--cold", action="store_true", help="Also time building the word lists into an empty cache.")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        print(json.dumps(one_run(args.store)))
        return

    runs = []
    for i in range(args.runs):
        done = subprocess.run([sys.executable, __file__, "--store", args.store, "--one-run"], check=True,
                              capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"run {i + 1}: first questions {runs[-1]['first_ms']}", flush=True)
    langs = list(runs[0]["first_ms"])
    per_language = {
        lang: {"first_ms": median(r["first_ms"][lang] for r in runs),
               "second_ms": median(r["second_ms"][lang] for r in runs)} for lang in langs
    }
    extra = [per_language[lang]["first_ms"] - per_language[lang]["second_ms"] for lang in langs]
    result = {
        "description": "each run a fresh process: start and warm up as `assist serve` does, background warm-ups "
                       "finished, then one dev question per language (first) and another (second); medians of runs",
        "runs": len(runs),
        "per_language_ms": per_language,
        "first_question_extra_ms": {"max": round(max(extra), 1), "median": round(median(extra), 1),
                                    "sum": round(sum(extra), 1)},
        "warm_up_s": median(r["warm_up_s"] for r in runs),
        "background_warm_up_s": median(r["background_warm_up_s"] for r in runs),
        "rss_mib_after_all_languages": median(r["rss_mib"] for r in runs),
    }
    if args.cold:
        result["cold_build_s"] = cold_build_s()
    print(write_result("first-questions", result, args.out))


if __name__ == "__main__":
    main()
