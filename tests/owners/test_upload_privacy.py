"""What an owner's change tells the owner, and which names it keeps: no server paths, nothing about collections the
owner cannot read, no routine under a name the folder ingest passes over, UTF-16 text taken as text."""

from pathlib import Path

import pytest

from assist.settings import Settings
from ingest.pipeline import Ingestor
from owners.changes import Change
from owners.errors import DocumentExistsError, OwnersError
from owners.uploads import Actor, RoutineDesk, RoutineFields, sniff
from serving.routes.owners import _for_owner
from tests.owners.docs import ICE, ICE_TITLE, docx_bytes

HOME_CARE_OWNER = Actor(token_id="t_owner", role="owner-home-care", manages=("home_care",))
OPERATOR = Actor(token_id="cli", role="admin")  # manages every collection
KEYS = "Nyckelkvittens\n\nNattpatrullen kvitterar ut nyckeln i nyckelskåpet och skriver in tid och signatur.\n"


def test_a_retired_file_is_reported_relative_to_the_data_dir_never_as_a_server_path(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    desk.add(docx_bytes(ICE_TITLE, ICE), "halka.docx", "home_care", RoutineFields(), HOME_CARE_OWNER)
    kept = desk.retire("halka", "home_care", HOME_CARE_OWNER).detail["kept_at"]
    assert not Path(kept).is_absolute() and kept.startswith("retired/home_care/")
    assert (settings.data_dir / kept).is_file()
    old = Change(time="2026-01-01T00:00:00+00:00", token_id="t", role="r", action="retire", collection="home_care",
                 doc_id="fall", detail={"kept_at": "/srv/assist/data/retired/home_care/20260101T000000-fall.md"})
    assert _for_owner(old).detail["kept_at"] == "retired/home_care/20260101T000000-fall.md"  # older records too


def test_an_id_taken_in_a_collection_the_owner_cannot_read_is_not_revealed(settings: Settings) -> None:
    desk = RoutineDesk(settings=settings)
    # `illness` is preschool's: the home-care owner's upload goes through under an id of its own, as any upload.
    out = desk.add(KEYS.encode(), "illness.txt", "home_care", RoutineFields(), HOME_CARE_OWNER)
    assert out.doc_id == "illness-2" and out.collection == "home_care"
    assert "preschool" not in str(out.__dict__)
    # Where the caller can see the routine, it is told so, to replace it instead.
    with pytest.raises(DocumentExistsError, match="'fall'"):
        desk.add(KEYS.encode(), "fall.txt", "home_care", RoutineFields(), HOME_CARE_OWNER)
    with pytest.raises(DocumentExistsError, match="'illness'"):
        desk.add(KEYS.encode(), "illness.txt", "home_care", RoutineFields(), OPERATOR)


def test_a_routine_named_readme_md_is_refused_as_the_rebuild_would_drop_it(settings: Settings) -> None:
    with pytest.raises(OwnersError, match=r"README\.md is the folder's notes.*Name the file after the routine"):
        RoutineDesk(settings=settings).add(KEYS.encode(), "README.md", "home_care", RoutineFields(), HOME_CARE_OWNER)
    assert not list(settings.knowledge_dir.rglob("*.md"))
    # The same text under another name survives a rebuild of the folder.
    RoutineDesk(settings=settings).add(KEYS.encode(), "nycklar.md", "home_care", RoutineFields(), HOME_CARE_OWNER)
    ingestor = Ingestor(settings, rebuild=True)
    try:
        ingestor.ingest([settings.knowledge_dir])
        assert "nycklar" in ingestor.stored_documents()
    finally:
        ingestor.close()


def test_utf16_text_with_its_byte_order_mark_is_uploaded_as_text(settings: Settings) -> None:
    data = KEYS.encode("utf-16")  # Notepad's "Unicode": BOM, then two bytes a character
    assert data.startswith(b"\xff\xfe") and b"\x00" in data
    assert sniff(data, "nycklar.txt") == ".txt"
    out = RoutineDesk(settings=settings).add(data, "nycklar.txt", "home_care", RoutineFields(), HOME_CARE_OWNER)
    assert out.detail["chunks"] >= 1 and out.title.startswith("Nyckelkvittens")
