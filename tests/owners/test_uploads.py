"""Adding, replacing and retiring routines through the ingest pipeline, against a real embedded store."""

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest

from assist.pipeline import Assistant
from assist.settings import Settings
from assist.store import CURRENT_FILE
from ingest.pipeline import read_status
from owners.changes import ChangeLog
from owners.errors import (
    DocumentExistsError,
    UnknownDocumentError,
    UnreadableFileError,
    UnsupportedFileError,
    UploadTooLargeError,
)
from owners.inventory import build_inventory, read_payloads
from owners.uploads import Actor, RoutineDesk, RoutineFields, doc_id_for, sniff
from serving.state import Database
from tests.owners.docs import ICE, ICE_NEW, ICE_NEW_TITLE, ICE_QUESTION, ICE_TITLE, docx_bytes

OWNER = Actor(token_id="t_owner", role="owner-home-care")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


class TestSniff:
    def test_a_word_document_is_known_by_its_bytes_whatever_its_name(self) -> None:
        assert sniff(docx_bytes("Rutin", ["Text."]), "rutin.txt") == ".docx"

    def test_a_pdf_is_known_by_its_bytes(self) -> None:
        assert sniff(b"%PDF-1.7\n...", "upload.bin") == ".pdf"

    @pytest.mark.parametrize(("data", "name", "words"), [
        (PNG, "rutin.docx", "PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(32), "rutin.doc", "old Office file"),
        (b"MZ\x90\x00" + bytes(32), "rutin.pdf", "Windows program"),
        (b"# Rutin\n\nText.", "rutin.pdf", "content is text"),
        (b"PK\x03\x04 not really a zip", "rutin.docx", "damaged"),
    ])
    def test_other_content_is_refused_naming_what_it_is(self, data: bytes, name: str, words: str) -> None:
        with pytest.raises(UnsupportedFileError, match=words):
            sniff(data, name)

    def test_a_zip_that_is_not_a_word_document_is_refused(self) -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("notes.txt", "hello")
        with pytest.raises(UnsupportedFileError, match="ZIP archive, not a Word document"):
            sniff(buf.getvalue(), "rutin.docx")

    def test_text_takes_its_kind_from_the_name(self) -> None:
        assert sniff(b"# Rutin\n", "rutin.md") == ".md"
        assert sniff(b"<!doctype html><html><body>x</body></html>", "page.htm") == ".html"
        assert sniff("Rutin för nycklar\n".encode("cp1252"), "nycklar") == ".txt"


def test_doc_ids_come_from_the_file_name_folded_to_safe_letters() -> None:
    assert doc_id_for("Halka vid entré (2027).docx") == "halka-vid-entre-2027"
    assert doc_id_for("../../etc/passwd") == "passwd"


def _current(settings: Settings) -> str:
    return (settings.store_path / CURRENT_FILE).read_text()


def _ask(settings: Settings, question: str = ICE_QUESTION):
    assistant = Assistant(settings)
    try:
        return assistant.ask(question, role="home-care")
    finally:
        assistant.close()


def test_an_uploaded_word_routine_is_answered_from_with_its_overdue_review_notice(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    out = desk.add(docx_bytes(ICE_TITLE, ICE), "Halka entré.docx", "home_care",
                   RoutineFields(review_date=date(2025, 11, 30)), OWNER)
    assert (out.action, out.doc_id, out.title) == ("add", "halka-entre", ICE_TITLE)
    # Stored in the knowledge folder that `assist ingest` reads, with the form's fields beside it.
    assert (settings.knowledge_dir / "home_care" / "halka-entre.docx").is_file()
    side = settings.knowledge_dir / "home_care" / "halka-entre.docx.meta.toml"
    assert 'review_date = "2025-11-30"' in side.read_text()

    answer = _ask(settings)
    assert answer.status == "answered"
    assert answer.citations[0].doc_id == "halka-entre"
    assert any("2025-11-30" in n and ICE_TITLE in n for n in answer.notices)


def test_a_replacement_from_a_future_day_leaves_the_old_routine_in_force(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    desk.add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care", RoutineFields(), OWNER)
    later = date.today() + timedelta(days=30)
    out = desk.replace("halka", docx_bytes(ICE_NEW_TITLE, ICE_NEW), "halka.docx", "home_care",
                       RoutineFields(valid_from=later), OWNER)
    assert out.doc_id == f"halka-{later.isoformat()}"  # same file name: the new routine gets its own dated id
    answer = _ask(settings)
    cited = {c.doc_id for c in answer.citations}
    assert "halka" in cited
    assert out.doc_id not in cited
    assert "sand" in answer.answer and "salt" not in answer.answer

    rows = {r.doc_id: r for r in build_inventory(read_payloads_of(settings), read_status(settings))}
    assert rows["halka"].replaced_by == out.doc_id and rows["halka"].status == "indexed"
    assert rows[out.doc_id].status == "scheduled" and not rows[out.doc_id].in_force


def test_a_replacement_in_force_today_takes_over_at_once(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    desk.add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care", RoutineFields(), OWNER)
    out = desk.replace("halka", docx_bytes(ICE_NEW_TITLE, ICE_NEW), "halka-ny.docx", "home_care", RoutineFields(),
                       OWNER)
    answer = _ask(settings)
    assert [c.doc_id for c in answer.citations][:1] == [out.doc_id]
    assert "halka" not in {c.doc_id for c in answer.citations}


def test_a_routine_already_replaced_is_not_replaced_again(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    desk.add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care", RoutineFields(), OWNER)
    out = desk.replace("halka", docx_bytes(ICE_NEW_TITLE, ICE_NEW), "halka-ny.docx", "home_care", RoutineFields(),
                       OWNER)
    before = (_current(settings), sorted(p.name for p in settings.knowledge_dir.rglob("*")))
    with pytest.raises(DocumentExistsError, match=f"replace '{out.doc_id}' instead"):
        desk.replace("halka", docx_bytes(ICE_NEW_TITLE, ICE_NEW), "halka-3.docx", "home_care", RoutineFields(),
                     OWNER)
    assert (_current(settings), sorted(p.name for p in settings.knowledge_dir.rglob("*"))) == before


@pytest.mark.parametrize(("data", "name", "error", "words"), [
    (PNG, "rutin.docx", UnsupportedFileError, "PNG image"),
    (docx_bytes("Tom", [])[:400], "rutin.docx", UnsupportedFileError, "damaged"),
    (b"   \n\n  ", "tom.txt", UnreadableFileError, "empty"),
])
def test_a_bad_upload_is_refused_and_nothing_changes(
    settings: Settings, data: bytes, name: str, error: type, words: str
) -> None:
    before = (_current(settings), sorted(p.name for p in settings.knowledge_dir.rglob("*")), read_status(settings))
    with pytest.raises(error, match=words):
        RoutineDesk(settings=settings).add(data, name, "home_care", RoutineFields(), OWNER)
    after = (_current(settings), sorted(p.name for p in settings.knowledge_dir.rglob("*")), read_status(settings))
    assert after == before
    assert not list((settings.data_dir / "uploads" / ".staging").glob("*"))  # nothing left in staging


def test_an_upload_over_the_limit_is_refused_before_anything_is_read(settings: Settings) -> None:
    with pytest.raises(UploadTooLargeError, match="2000 bytes: the limit is 1048 bytes"):
        RoutineDesk(settings=settings, max_upload_mb=0.001).add(b"x" * 2000, "a.txt", "home_care",
                                                                 RoutineFields(), OWNER)


def test_a_taken_id_and_an_unknown_routine_are_refused(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    with pytest.raises(DocumentExistsError, match="'fall'"):  # a fixture routine of the store
        desk.add(docx_bytes(ICE_TITLE, ICE), "fall.docx", "home_care", RoutineFields(), OWNER)
    with pytest.raises(UnknownDocumentError):
        desk.replace("illness", docx_bytes(ICE_TITLE, ICE), "x.docx", "home_care", RoutineFields(), OWNER)
    with pytest.raises(UnknownDocumentError):
        desk.retire("illness", "home_care", OWNER)  # preschool's, not home care's


def test_retiring_removes_the_routine_from_answers_and_records_who(settings: Settings, tmp_path: Path) -> None:
    database = Database.sqlite(tmp_path / "state.sqlite")
    database.ensure_current()
    log = ChangeLog(database)
    desk = RoutineDesk(settings=settings, changes=log)
    desk.add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care", RoutineFields(), OWNER)
    out = desk.retire("halka", "home_care", OWNER, reason="Ersatt av fastighetens egen rutin")
    assert out.detail["chunks_removed"] == 1
    assert not (settings.knowledge_dir / "home_care" / "halka.docx").exists()
    assert (settings.data_dir / out.detail["kept_at"]).is_file()  # under the data dir, out of the next ingest's way
    assert "halka" not in {c.doc_id for c in _ask(settings).citations}
    changes = log.list(["home_care"])
    assert [(c.action, c.doc_id, c.token_id, c.role) for c in changes] == [
        ("retire", "halka", "t_owner", "owner-home-care"), ("add", "halka", "t_owner", "owner-home-care"),
    ]
    assert changes[0].detail["reason"] == "Ersatt av fastighetens egen rutin"
    assert log.list(["preschool"]) == []
    database.close()


def read_payloads_of(settings: Settings) -> list[dict]:
    from assist.backends import make_document_store  # noqa: PLC0415

    store = make_document_store(settings)
    try:
        return read_payloads(store)
    finally:
        store.close()


def test_retiring_a_routine_kept_elsewhere_removes_it_and_says_where_to_delete_it(settings: Settings) -> None:
    out = RoutineDesk(settings=settings).retire("fall", "home_care", OWNER)
    assert out.detail["chunks_removed"] >= 1 and "kept_at" not in out.detail
    assert "next `assist ingest`" in out.notes[0]
    assert "fall" not in {r.doc_id for r in build_inventory(read_payloads_of(settings), read_status(settings))}


def test_a_later_ingest_of_the_whole_folder_finds_the_upload_unchanged(settings: Settings) -> None:
    from ingest.pipeline import Ingestor  # noqa: PLC0415

    RoutineDesk(settings=settings).add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care",
                                       RoutineFields(review_date=date(2027, 1, 1)), OWNER)
    ingestor = Ingestor(settings)
    try:
        report = ingestor.ingest([settings.knowledge_dir], prune=True)
    finally:
        ingestor.close()
    assert [(f.path, f.status) for f in report.files] == [("knowledge/home_care/halka.docx", "unchanged")]
