"""Ingestor end to end on a small generated folder: report lines, re-runs, replacement, prune, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assist.components.edge_store import EdgeDocumentStore
from assist.settings import Settings
from ingest import pipeline
from ingest.pipeline import Ingestor
from tests.ingest.conftest import MARKDOWN, SENTENCES, make_pdf, make_scanned_pdf


def settings_for(store: Path) -> Settings:
    return Settings(data_dir=store.parent, qdrant={"path": store})


def run(roots: list[Path], store: Path, **kw):
    ing = Ingestor(settings_for(store))
    try:
        return ing.ingest(roots, **kw)
    finally:
        ing.close()


def stored(store: Path) -> set[tuple[str, int, str, str]]:
    """(doc_id, chunk, content_hash, file_hash) of every point: the state two runs are compared by."""
    s = EdgeDocumentStore(path=str(store), create=False)
    try:
        return {(m["meta"]["doc_id"], m["meta"]["chunk"], m["meta"]["content_hash"], m["meta"]["file_hash"])
                for m in s.filter_payloads()}
    finally:
        s.close()


def test_every_format_ingested_with_metadata(kb: Path, tmp_path: Path):
    report = run([kb], tmp_path / "store")
    assert report.counts() == {"ingested": 5}, report.to_dict()
    s = EdgeDocumentStore(path=str(tmp_path / "store"), create=False)
    metas = [p["meta"] for p in s.filter_payloads()]
    s.close()
    by_doc = {m["doc_id"]: m for m in metas}
    assert set(by_doc) == {"hygien", "fall", "nycklar", "oppettider", "utlan"}
    assert by_doc["hygien"]["source"] == "kb/home_care/hygien.md" and by_doc["hygien"]["collection"] == "home_care"
    assert by_doc["oppettider"]["collection"] == "library"
    required = {"doc_id", "title", "collection", "source", "page", "section", "language", "valid_from", "review_date",
                "owner", "doc_version", "replaces", "file_hash", "content_hash", "chunk", "chunk_count"}
    for m in metas:
        assert required <= m.keys()
    assert {m["page"] for m in metas if m["doc_id"] == "fall"} == {1, 2}
    assert any(m["section"].startswith("Handhygien >") for m in metas if m["doc_id"] == "hygien")


def test_rerun_changes_nothing_and_changed_file_replaces_its_chunks(kb: Path, tmp_path: Path):
    store = tmp_path / "store"
    run([kb], store)
    before = stored(store)
    second = run([kb], store)
    assert second.counts() == {"unchanged": 5}
    assert stored(store) == before
    # A shorter new version: its chunks replace the old ones, none of the old version remains.
    (kb / "home_care" / "hygien.md").write_text(MARKDOWN.format(body="Kort."), encoding="utf-8")
    third = run([kb], store)
    assert third.counts() == {"ingested": 1, "unchanged": 4}
    after = stored(store)
    hygien = [r for r in after if r[0] == "hygien"]
    assert len({r[3] for r in hygien}) == 1
    assert sorted(r[1] for r in hygien) == list(range(len(hygien)))
    assert {r for r in after if r[0] != "hygien"} == {r for r in before if r[0] != "hygien"}


def test_prune_removes_documents_whose_files_are_gone(kb: Path, tmp_path: Path):
    store = tmp_path / "store"
    run([kb], store)
    (kb / "library" / "utlan.txt").unlink()
    kept = run([kb], store)
    assert "utlan" in {r[0] for r in stored(store)} and "removed" not in kept.counts()
    pruned = run([kb], store, prune=True)
    assert [f.path for f in pruned.files if f.status == "removed"] == ["kb/library/utlan.txt"]
    assert "utlan" not in {r[0] for r in stored(store)}


def test_bad_files_reported_and_the_rest_ingested(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    bad = kb / "general"
    bad.mkdir()
    (bad / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (bad / "locked.pdf").write_bytes(make_pdf([[SENTENCES[0]]], password="x"))
    (bad / "scan.pdf").write_bytes(make_scanned_pdf())
    (bad / "empty.md").write_bytes(b"")
    with (bad / "huge.pdf").open("wb") as f:
        f.truncate(200 * 1024 * 1024)
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (bad / "sheet.xlsx").write_bytes(b"PK")
    (bad / "secret.md").write_text("# Hemligt\n\nInnehåll.", encoding="utf-8")
    (bad / "loop").symlink_to(bad)
    (bad / "self").symlink_to(bad / "self")
    (kb / "not a collection").mkdir()
    (kb / "not a collection" / "x.md").write_text("# X\n\nText.", encoding="utf-8")

    real_hash = pipeline.file_hash

    def unreadable(path: Path, ident=None) -> str:  # tests run as root, where chmod 000 does not stop reading
        if path.name == "secret.md":
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path, ident)

    monkeypatch.setattr(pipeline, "file_hash", unreadable)
    ing = Ingestor(settings_for(tmp_path / "store"), max_file_mb=50)
    report = ing.ingest([kb])
    ing.close()
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert reasons.keys() == {"corrupt.pdf", "locked.pdf", "scan.pdf", "empty.md", "huge.pdf", "binary.txt",
                              "sheet.xlsx", "secret.md", "loop", "self", "x.md"}, reasons
    assert "corrupt PDF" in reasons["corrupt.pdf"]
    assert "encrypted PDF" in reasons["locked.pdf"]
    assert "scanned: needs OCR" in reasons["scan.pdf"]
    assert "empty file" in reasons["empty.md"]
    assert "too large" in reasons["huge.pdf"] and "--max-file-mb" in reasons["huge.pdf"]
    assert "unsupported file type .xlsx" in reasons["sheet.xlsx"]
    assert "Permission denied" in reasons["secret.md"]
    assert "symbolic link: not followed" in reasons["loop"] and "symbolic link: not followed" in reasons["self"]
    assert "not a collection" in reasons["x.md"]
    assert report.counts()["ingested"] == 5


def test_same_file_name_twice_is_reported(kb: Path, tmp_path: Path):
    (kb / "library" / "hygien.md").write_text("# Annan\n\nEn annan rutin.", encoding="utf-8")
    report = run([kb], tmp_path / "store")
    assert [Path(f.path).name for f in report.failed] == ["hygien.md"]
    assert "rename one" in report.failed[0].reason


@pytest.mark.slow
def test_cli_json_and_exit_status(kb: Path, tmp_path: Path):
    (kb / "library" / "broken.pdf").write_bytes(b"%PDF-1.4 nope")
    code = (
        "import sys; from pathlib import Path; from ingest.cli import run_ingest;"
        f"sys.exit(run_ingest([Path({str(kb)!r})], store=Path({str(tmp_path / 's')!r}), as_json=True))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ},
                         check=False, timeout=300)
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["counts"] == {"ingested": 5, "failed": 1}
    assert report["files"][0].keys() >= {"path", "status", "reason", "chunks", "pages"}
