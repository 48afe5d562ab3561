"""kill -9 at any point, then run again: the store ends exactly as a clean run leaves it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import KILL_HOOK_ENV
from tests.ingest.conftest import MARKDOWN, build_kb
from tests.ingest.test_pipeline import run, stored

SCRIPT = (
    "import sys; from pathlib import Path; from ingest.pipeline import Ingestor; from assist.settings import Settings;"
    "store = Path(sys.argv[2]);"
    "ing = Ingestor(Settings(data_dir=store.parent, qdrant={'path': store}), batch_chunks=2);"
    "r = ing.ingest([Path(sys.argv[1])]); ing.close(); sys.exit(1 if r.failed else 0)"
)


def ingest_process(kb: Path, store: Path, kill_at: str = "") -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", KILL_HOOK_ENV: kill_at}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(kb), str(store)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> int:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
    return proc.returncode


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clean_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set]:
    """One generated folder and the store state a clean, uninterrupted run leaves."""
    base = tmp_path_factory.mktemp("crash")
    kb = build_kb(base)
    run([kb], base / "clean")
    return kb, stored(base / "clean")


@pytest.mark.parametrize("kill_at", ["write:1", "file:2", "write:3"])
def test_killed_first_ingest_then_rerun_equals_clean_run(clean_state: tuple[Path, set], tmp_path: Path, kill_at: str):
    kb, clean = clean_state
    store = tmp_path / "store"
    assert finish(ingest_process(kb, store, kill_at)) == -signal.SIGKILL
    assert finish(ingest_process(kb, store)) == 0
    assert stored(store) == clean


def test_killed_while_replacing_a_changed_file(kb: Path, tmp_path: Path):
    store = tmp_path / "store"
    run([kb], store)
    (kb / "home_care" / "hygien.md").write_text(MARKDOWN.format(body="Kort ny version."), encoding="utf-8")
    clean = tmp_path / "clean"
    shutil.copytree(store, clean)
    run([kb], clean)
    # new chunks written, old surplus not yet deleted: both versions on disk at the moment of the kill
    assert finish(ingest_process(kb, store, "write:1")) == -signal.SIGKILL
    assert finish(ingest_process(kb, store)) == 0
    assert stored(store) == stored(clean)


def test_killed_from_outside_at_a_random_moment(clean_state: tuple[Path, set], tmp_path: Path):
    kb, clean = clean_state
    store = tmp_path / "store"
    for delay in (3.0, 4.5):
        proc = ingest_process(kb, store)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        finish(proc)
    assert finish(ingest_process(kb, store)) == 0
    assert stored(store) == clean


def test_killed_in_a_long_file_resumes_without_embedding_again(tmp_path: Path):
    from tests.ingest.test_hostile import long_text  # noqa: PLC0415

    kb = tmp_path / "kb"
    (kb / "home_care").mkdir(parents=True)
    (kb / "home_care" / "lang.txt").write_text(long_text(100), encoding="utf-8")
    run([kb], tmp_path / "clean")
    store = tmp_path / "store"
    # batch_chunks=2: three batches (6 chunks) are in the unpublished store version when the process dies; readers
    # see nothing of it (a first ingest killed publishes nothing), and the rerun resumes from it.
    assert finish(ingest_process(kb, store, "write:3")) == -signal.SIGKILL
    assert len(stored(store)) == 0

    from ingest.pipeline import Ingestor  # noqa: PLC0415
    from tests.ingest.test_pipeline import settings_for  # noqa: PLC0415

    ing = Ingestor(settings_for(store), batch_chunks=2)
    embedded: list[int] = []
    real_run = ing.pipeline.run

    def counting_run(data: dict, **kw):
        embedded.append(len(data["embedder"]["documents"]))
        return real_run(data, **kw)

    ing.pipeline.run = counting_run
    try:
        report = ing.ingest([kb])
    finally:
        ing.close()
    total = report.files[0].chunks
    assert total > 12
    assert sum(embedded) == total - 6
    assert f"resumed: 6 of {total} chunks were already written" in report.files[0].notes
    assert stored(store) == stored(tmp_path / "clean")
