"""A routine's metadata file beside it (`<file>.meta.toml`), and the status file that records each file's last
ingest (what the owners' inventory reads)."""

from pathlib import Path

from assist.backends import make_document_store
from assist.settings import Settings
from ingest.pipeline import Ingestor, read_status

ROUTINE = "---\ntitle: Nycklar\nowner: Enhetschef\nreview_date: 2027-01-01\n---\n# Nycklar\n\nNyckeln kvitteras.\n"


def ingest(settings: Settings, root: Path):
    ingestor = Ingestor(settings)
    try:
        return ingestor.ingest([root], prune=True)
    finally:
        ingestor.close()


def metas(settings: Settings) -> dict[str, dict]:
    store = make_document_store(settings)
    try:
        return {p["meta"]["doc_id"]: p["meta"] for p in store.filter_payloads()}
    finally:
        store.close()


def test_the_metadata_file_wins_over_the_file_s_own_fields_and_a_change_to_it_re_ingests(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    (root / "home_care").mkdir(parents=True)
    (root / "home_care" / "nycklar.md").write_text(ROUTINE, encoding="utf-8")
    side = root / "home_care" / "nycklar.md.meta.toml"
    side.write_text('review_date = "2026-06-01"\nreplaces = ""\ntitle = "Nyckelrutin"\n', encoding="utf-8")
    settings = Settings(data_dir=tmp_path)

    report = ingest(settings, root)
    assert [(f.path, f.status) for f in report.files] == [("knowledge/home_care/nycklar.md", "ingested")]
    meta = metas(settings)["nycklar"]
    assert (meta["title"], meta["review_date"], meta["owner"]) == ("Nyckelrutin", "2026-06-01", "Enhetschef")

    assert [f.status for f in ingest(settings, root).files] == ["unchanged"]
    side.write_text('review_date = "2027-06-01"\n', encoding="utf-8")
    assert [f.status for f in ingest(settings, root).files] == ["ingested"]
    assert metas(settings)["nycklar"]["review_date"] == "2027-06-01"


def test_a_bad_metadata_file_fails_its_routine_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    (root / "home_care").mkdir(parents=True)
    (root / "home_care" / "nycklar.md").write_text(ROUTINE, encoding="utf-8")
    (root / "home_care" / "nycklar.md.meta.toml").write_text("colour = 'blue'\n", encoding="utf-8")
    report = ingest(Settings(data_dir=tmp_path), root)
    assert report.files[0].status == "failed"
    assert "unknown keys ['colour']" in report.files[0].reason


def test_the_status_file_keeps_each_file_s_last_outcome(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    (root / "home_care").mkdir(parents=True)
    (root / "home_care" / "nycklar.md").write_text(ROUTINE, encoding="utf-8")
    (root / "home_care" / "trasig.pdf").write_bytes(b"%PDF-1.4 not really")
    settings = Settings(data_dir=tmp_path)
    ingest(settings, root)
    status = read_status(settings)
    ok, bad = status["knowledge/home_care/nycklar.md"], status["knowledge/home_care/trasig.pdf"]
    assert (ok["doc_id"], ok["collection"], ok["status"], ok["chunks"]) == ("nycklar", "home_care", "ingested", 1)
    assert ok["ingested_at"]
    assert (bad["doc_id"], bad["status"]) == ("trasig", "failed") and bad["reason"]

    first = ok["ingested_at"]
    (root / "home_care" / "trasig.pdf").unlink()
    ingest(settings, root)
    status = read_status(settings)
    assert status["knowledge/home_care/nycklar.md"]["status"] == "unchanged"
    assert status["knowledge/home_care/nycklar.md"]["ingested_at"] == first  # unchanged keeps when it was ingested
    assert "knowledge/home_care/trasig.pdf" not in status  # a failure of a file that is gone is forgotten
