"""The per-file budget (issue 23, item 8): a file with too many chunks, or whose chunks take too long to embed, is
reported failed with what to do, the rest of the folder is ingested, and nothing half-written is published."""

import itertools
from pathlib import Path

import pytest

from assist.components.edge_store import EdgeDocumentStore
from assist.settings import IngestSettings, Settings
from ingest.pipeline import Ingestor, read_status
from tests.ingest.conftest import MARKDOWN, SENTENCES


def long_text(sections: int) -> str:
    """A plain-text routine of `sections` headed sections, each about one chunk long."""
    parts = ["Lång rutin"]
    for n in range(1, sections + 1):
        body = " ".join(f"{s[:-1]} (punkt {n}.{i})." for i, s in enumerate(SENTENCES * 6))
        parts.append(f"{n}. Avsnitt {n}\n\n{body}")
    return "\n\n".join(parts)


def folder(tmp_path: Path, sections: int) -> Path:
    """A small routine in `a_home`, then a long one in `b_long` (walked in that order)."""
    root = tmp_path / "kb"
    (root / "a_home").mkdir(parents=True, exist_ok=True)
    (root / "b_long").mkdir(exist_ok=True)
    (root / "a_home" / "hygien.md").write_text(MARKDOWN.format(body=" ".join(SENTENCES)), encoding="utf-8")
    (root / "b_long" / "lang.txt").write_text(long_text(sections), encoding="utf-8")
    return root


def ingest(settings: Settings, root: Path, *, clock=None, batch_chunks: int | None = None):  # noqa: ANN001, ANN201
    ing = Ingestor(settings, batch_chunks=batch_chunks)
    if clock is not None:
        ing.clock = clock
    try:
        return ing.ingest([root])
    finally:
        ing.close()


def stored_chunks(settings: Settings) -> dict[str, set[str]]:
    """doc_id -> the file hashes its stored chunks carry."""
    s = EdgeDocumentStore(path=str(settings.store_path), create=False)
    try:
        out: dict[str, set[str]] = {}
        for m in s.filter_payloads():
            out.setdefault(m["meta"]["doc_id"], set()).add(m["meta"]["file_hash"])
        return out
    finally:
        s.close()


def test_a_file_over_the_chunk_budget_fails_before_it_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = folder(tmp_path, sections=3)
    monkeypatch.setenv("ASSIST_INGEST__MAX_CHUNKS_PER_FILE", "10")
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.ingest.max_chunks_per_file == 10
    first = ingest(settings, root)
    assert not first.failed, first.to_dict()
    before = stored_chunks(settings)

    (root / "b_long" / "lang.txt").write_text(long_text(30), encoding="utf-8")
    report = ingest(settings, root)

    [failed] = report.failed
    assert failed.path == "kb/b_long/lang.txt"
    assert "more than the 10 one file may have" in failed.reason
    assert "split it" in failed.reason and "ASSIST_INGEST__MAX_CHUNKS_PER_FILE" in failed.reason
    assert {f.path: f.status for f in report.files}["kb/a_home/hygien.md"] == "unchanged"
    # The earlier version of the long file is still the one stored, whole.
    assert stored_chunks(settings) == before
    assert read_status(settings)["kb/b_long/lang.txt"]["status"] == "failed"


def test_a_file_over_the_time_budget_is_stopped_and_nothing_of_it_is_published(tmp_path: Path) -> None:
    root = folder(tmp_path, sections=12)
    settings = Settings(data_dir=tmp_path / "data", ingest=IngestSettings(max_seconds_per_file=30))
    ticks = itertools.count(step=20.0)  # every look at the clock is 20 s later: one batch takes the long file past 30

    report = ingest(settings, root, clock=lambda: next(ticks), batch_chunks=4)

    by_path = {f.path: f for f in report.files}
    assert by_path["kb/a_home/hygien.md"].status == "ingested"
    long = by_path["kb/b_long/lang.txt"]
    assert long.status == "failed"
    assert "embedding took longer than 30 s" in long.reason
    assert "ASSIST_INGEST__MAX_SECONDS_PER_FILE" in long.reason
    assert set(stored_chunks(settings)) == {"hygien"}
    assert read_status(settings)["kb/b_long/lang.txt"]["status"] == "failed"
