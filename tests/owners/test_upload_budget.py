"""An owner's upload holds the store only within its budget (chunks, seconds, its client's presence), other changes
are told to come back instead of waiting without end, and a refused, stopped or crashed upload leaves no file."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assist.errors import StoreBusyError
from assist.settings import IngestSettings, Settings
from assist.store import CURRENT_FILE, IngestLock
from ingest.pipeline import Ingestor, read_status
from owners.errors import ChangeInProgressError, UploadStoppedError, UploadTooLargeError
from owners.uploads import STAGING, Actor, RoutineDesk, RoutineFields

OWNER = Actor(token_id="t_owner", role="owner-home-care")
REPO = Path(__file__).resolve().parents[2]

SMALL = (
    "Nyckelkvittens vid nattpatrull\n\n"
    "Nattpatrullen kvitterar ut nyckeln till brukarens bostad i nyckelskåpet på stationen och skriver in "
    "tid och signatur i nyckelboken. Nyckeln lämnas tillbaka samma natt.\n"
).encode()


def routine_text(paragraphs: int) -> bytes:
    """A plain-text routine with this many distinct paragraphs under numbered headings (a long one splits into many
    chunks)."""
    parts = ["Rutin för larmhantering i hemtjänsten\n"]
    for n in range(paragraphs):
        parts.append(
            f"\n## Steg {n}\n\nVid larm nummer {n} kontrollerar personalen brukarens larmknapp, ringer upp "
            f"brukaren inom {n % 15 + 2} minuter och dokumenterar samtalet i journalen med tid, orsak och "
            f"åtgärd. Om brukaren inte svarar åker närmaste bil ut; gruppledaren för område {n % 40} informeras.\n"
        )
    return "".join(parts).encode()


def _with(settings: Settings, **ingest: object) -> Settings:
    return settings.model_copy(update={"ingest": IngestSettings(**{**settings.ingest.model_dump(), **ingest})})


def _folder_files(settings: Settings) -> list[str]:
    return sorted(p.relative_to(settings.knowledge_dir).as_posix() for p in settings.knowledge_dir.rglob("*")
                  if not p.is_dir())


def _leftovers(settings: Settings) -> list[str]:
    staging = settings.data_dir / "uploads" / STAGING
    return sorted(p.name for p in staging.iterdir()) if staging.exists() else []


def _current(settings: Settings) -> str:
    return (settings.store_path / CURRENT_FILE).read_text()


def test_a_three_megabyte_text_is_refused_by_the_chunk_budget_without_holding_the_store(settings: Settings) -> None:
    big = routine_text(11200)
    assert len(big) > 3_000_000
    desk = RoutineDesk(settings=settings)
    before = (_current(settings), _folder_files(settings), read_status(settings))
    lock_free_during = []

    def probe() -> None:  # the store's ingest lock, tried while the big upload is being checked
        while not done.is_set():
            try:
                IngestLock(settings.store_path).release()
                lock_free_during.append(True)
            except StoreBusyError:
                lock_free_during.append(False)
            time.sleep(0.2)

    done = threading.Event()
    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with pytest.raises(UploadTooLargeError, match=r"more than the 300 one upload may have "
                                                      r"\(ASSIST_INGEST__UPLOAD_MAX_CHUNKS\)"):
            desk.add(big, "larm.txt", "home_care", RoutineFields(), OWNER)
    finally:
        done.set()
        prober.join()
    assert lock_free_during and all(lock_free_during)  # the store was never held while the big file was read
    assert (_current(settings), _folder_files(settings), read_status(settings)) == before
    assert _leftovers(settings) == []
    out = desk.add(SMALL, "nycklar-natt.txt", "home_care", RoutineFields(), OWNER)  # the next upload goes through
    assert out.doc_id == "nycklar-natt"


def test_an_upload_past_its_time_budget_is_stopped_and_leaves_nothing(settings: Settings) -> None:
    tight = _with(settings, upload_max_seconds=0.01)
    before = (_current(settings), _folder_files(settings), read_status(settings))
    budget = r"longer than its 0.01 s budget \(ASSIST_INGEST__UPLOAD_MAX_SECONDS\)"
    with pytest.raises(UploadTooLargeError, match=budget):
        RoutineDesk(settings=tight).add(routine_text(20), "larm.txt", "home_care", RoutineFields(), OWNER)
    assert (_current(settings), _folder_files(settings), read_status(settings)) == before
    assert _leftovers(settings) == []
    IngestLock(settings.store_path).release()  # the lock is free again
    RoutineDesk(settings=settings).add(SMALL, "nycklar-natt.txt", "home_care", RoutineFields(), OWNER)


def test_an_upload_whose_client_goes_away_stops_between_batches_and_leaves_nothing(settings: Settings) -> None:
    slow = _with(settings, batch_chunks=1)  # one chunk per batch: many chances to stop
    desk = RoutineDesk(settings=slow)
    target = settings.knowledge_dir / "home_care" / "larm.txt"
    before = (_current(settings), read_status(settings))
    cancel = threading.Event()

    def disconnect_once_placed() -> None:
        while not target.exists() and not cancel.is_set():
            time.sleep(0.005)
        cancel.set()

    watcher = threading.Thread(target=disconnect_once_placed)
    watcher.start()
    try:
        with pytest.raises(UploadStoppedError, match="client went away"):
            desk.add(routine_text(40), "larm.txt", "home_care", RoutineFields(), OWNER, cancel=cancel)
    finally:
        cancel.set()
        watcher.join()
    assert (_current(settings), read_status(settings)) == before
    assert not target.exists() and _leftovers(settings) == []
    assert desk.add(SMALL, "nycklar-natt.txt", "home_care", RoutineFields(), OWNER).doc_id == "nycklar-natt"


def test_a_change_that_finds_another_under_way_is_told_when_to_come_back(settings: Settings) -> None:
    desk = RoutineDesk(settings=_with(settings, upload_lock_wait_s=0.1))
    with desk._lock:  # another owner's change under way in this process
        with pytest.raises(ChangeInProgressError, match="Another change to the routines is in progress") as busy:
            desk.add(SMALL, "nycklar-natt.txt", "home_care", RoutineFields(), OWNER)
        assert busy.value.status_code == 503 and int(busy.value.headers["Retry-After"]) >= 1
        with pytest.raises(ChangeInProgressError):
            desk.retire("fall", "home_care", OWNER)
    lock = IngestLock(settings.store_path)  # `assist ingest` running in another process
    try:
        with pytest.raises(ChangeInProgressError, match="assist ingest") as busy:
            desk.add(SMALL, "nycklar-natt.txt", "home_care", RoutineFields(), OWNER)
        assert busy.value.headers["Retry-After"] == "60"
    finally:
        lock.release()
    assert _folder_files(settings) == [] and _leftovers(settings) == []


CRASHING_UPLOAD = """
import sys
from owners.uploads import Actor, RoutineDesk, RoutineFields
from tests.owners.test_upload_budget import routine_text
from assist.settings import Settings
RoutineDesk(settings=Settings()).add(routine_text(20), "larm.txt", "home_care", RoutineFields(),
                                     Actor(token_id="t", role="owner-home-care"))
sys.exit("the upload was expected to be killed")
"""


def test_an_upload_killed_part_way_is_undone_at_the_next_start(settings: Settings) -> None:
    env = {
        **os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
        "ASSIST_DATA_DIR": str(settings.data_dir), "ASSIST_QDRANT__PATH": str(settings.store_path),
        "ASSIST_KNOWLEDGE_DIR": str(settings.knowledge_dir), "ASSIST_ROLES_FILE": str(settings.roles_file),
        "ASSIST_INGEST__BATCH_CHUNKS": "2", "ASSIST_INGEST_KILL_AT": "write:2",
    }
    proc = subprocess.run([sys.executable, "-c", CRASHING_UPLOAD], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == -9, proc.stderr[-2000:]
    placed = settings.knowledge_dir / "home_care" / "larm.txt"
    assert placed.exists() and _leftovers(settings)  # what the crash left: the file, and the upload's journal

    checked = settings.data_dir / "uploads" / STAGING / "0123456789abcdef"  # a dead process's file being checked
    checked.mkdir()
    (checked / "larm.txt").write_bytes(routine_text(2))
    os.utime(checked, (time.time() - 3600, time.time() - 3600))

    RoutineDesk(settings=settings)  # the service's (or the CLI's) next start

    assert not checked.exists()

    assert not placed.exists() and _folder_files(settings) == []
    assert [name for name in _leftovers(settings) if name.endswith(".json")] == []
    ingestor = Ingestor(settings)  # the next ingest of the folder neither finds the file nor publishes its chunks
    try:
        ingestor.ingest([settings.knowledge_dir])
        assert "larm" not in ingestor.stored_documents()
    finally:
        ingestor.close()
