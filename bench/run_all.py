"""Run every benchmark of the product in one place, then draw the report (docs/bench/).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/run_all.py [--quick] [--only retrieval answer ...] [--no-report]

Each benchmark runs in its own process and writes bench/results/<name>.json with the machine it ran on:
ingest (bench/bench_ingest.py, when present), retrieval (bench_retrieval.py: 1k/10k/100k chunks), answer
(bench_answer.py: extractive, llama.cpp in-process and through its server) and http (bench/bench_http.py).
`--quick` shortens every one (fewer files, queries and seconds) to stay within about ten minutes on 2 cores.
A benchmark that fails is reported and the others still run; the exit status says whether all succeeded.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def commands(quick: bool) -> dict[str, list[str] | None]:
    """The command of each benchmark; None when its script is absent."""
    py = sys.executable
    ingest = BENCH / "bench_ingest.py"
    return {
        "ingest": [py, str(ingest), *(["--files", "200"] if quick else [])] if ingest.exists() else None,
        "retrieval": [py, str(BENCH / "bench_retrieval.py"), *(["--queries", "100"] if quick else [])],
        "answer": [py, str(BENCH / "bench_answer.py"), *(["--llm-questions", "3"] if quick else [])],
        "http": [py, str(BENCH / "bench_http.py"), *(["--users", "20", "--duration", "20"] if quick else [])],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Shorter runs (about ten minutes on 2 cores).")
    parser.add_argument("--only", nargs="+", choices=["ingest", "retrieval", "answer", "http"])
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()

    env = os.environ | {"HF_HUB_OFFLINE": "1", "HAYSTACK_TELEMETRY_ENABLED": "False",
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    failed = []
    for name, command in commands(args.quick).items():
        if args.only and name not in args.only:
            continue
        if command is None:
            print(f"[{name}] skipped: its script is not in bench/", flush=True)
            continue
        print(f"[{name}] {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(command))}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603 - our own scripts
        print(f"[{name}] {'ok' if done.returncode == 0 else f'FAILED ({done.returncode})'} "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        if done.returncode != 0:
            failed.append(name)
    if not args.no_report:
        subprocess.run([sys.executable, str(BENCH / "report.py")], cwd=ROOT, env=env, check=False)  # noqa: S603
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
