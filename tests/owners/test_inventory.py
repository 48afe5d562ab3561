"""The inventory from stored chunks' metadata and ingest's status file: replacements, review dates, failures."""

from datetime import date

from assist.roles import load_roles
from owners.inventory import build_inventory, filter_rows
from owners.review import due_within, overdue
from tests.conftest import ROLES_CITY

TODAY = date(2026, 12, 6)


def chunk(doc_id: str, collection: str = "home_care", **meta: object) -> dict[str, object]:
    return {"doc_id": doc_id, "collection": collection, "title": doc_id.title(),
            "source": f"knowledge/{collection}/{doc_id}.md", "language": "sv", **meta}


PAYLOADS = [
    chunk("nycklar", review_date="2026-03-01", owner="Enhetschef", page=None),
    chunk("nycklar", review_date="2026-03-01", owner="Enhetschef"),
    chunk("fall", review_date="2027-06-01", valid_from="2024-01-01"),
    chunk("fall-2025", replaces="fall", valid_from="2025-01-01", review_date="2027-01-01"),
    chunk("halka", review_date="2026-12-20"),
    chunk("halka-2099", replaces="halka", valid_from="2099-01-01"),
    chunk("manual", "preschool", source="knowledge/preschool/manual.pdf", page=1),
    chunk("manual", "preschool", source="knowledge/preschool/manual.pdf", page=3),
    chunk("cross", "preschool", replaces="nycklar", valid_from="2020-01-01"),  # another collection's: ignored
]
STATUS = {
    "knowledge/home_care/nycklar.md": {"doc_id": "nycklar", "collection": "home_care", "status": "unchanged",
                                       "ingested_at": "2026-11-01T08:00:00Z"},
    "knowledge/home_care/trasig.pdf": {"doc_id": "trasig", "collection": "home_care", "status": "failed",
                                       "reason": "encrypted PDF: remove the password"},
    "knowledge/preschool/manual.pdf": {"doc_id": "manual", "collection": "preschool", "status": "failed",
                                       "reason": "corrupt PDF", "ingested_at": "2026-10-01T08:00:00Z"},
}


def rows() -> dict[str, object]:
    return {r.doc_id: r for r in build_inventory(PAYLOADS, STATUS, load_roles(ROLES_CITY), today=TODAY)}


def test_every_routine_with_its_metadata_and_last_ingest() -> None:
    r = rows()
    nycklar = r["nycklar"]
    assert (nycklar.chunks, nycklar.owner, nycklar.format, nycklar.status) == (2, "Enhetschef", "md", "indexed")
    assert nycklar.ingested_at == "2026-11-01T08:00:00Z"
    assert nycklar.owner_roles == ["owner-home-care"]
    assert r["manual"].pages == 3 and r["manual"].format == "pdf"


def test_a_replacement_in_force_marks_the_old_one_replaced() -> None:
    r = rows()
    assert (r["fall"].replaced_by, r["fall"].replaced, r["fall"].status, r["fall"].in_force) == (
        "fall-2025", True, "replaced", False)
    assert r["fall-2025"].status == "indexed" and r["fall-2025"].replaces == "fall"


def test_a_replacement_from_a_future_day_is_scheduled_and_the_old_one_stays_in_force() -> None:
    r = rows()
    assert (r["halka"].status, r["halka"].in_force, r["halka"].replaced_by) == ("indexed", True, "halka-2099")
    assert (r["halka-2099"].status, r["halka-2099"].in_force) == ("scheduled", False)


def test_one_collection_never_replaces_another_s_routine() -> None:
    assert rows()["nycklar"].replaced_by == ""


def test_failed_files_are_listed_with_their_reason_even_when_nothing_is_stored() -> None:
    r = rows()
    assert (r["trasig"].status, r["trasig"].reason, r["trasig"].chunks) == (
        "failed", "encrypted PDF: remove the password", 0)
    # A file whose new version failed: the stored version is still listed, with the failure.
    assert (r["manual"].status, r["manual"].chunks, r["manual"].reason) == ("failed", 2, "corrupt PDF")


def test_filters_and_search() -> None:
    all_rows = list(rows().values())
    ids = lambda found: sorted(r.doc_id for r in found)  # noqa: E731
    assert ids(filter_rows(all_rows, overdue=True)) == ["nycklar"]
    assert ids(filter_rows(all_rows, failed=True)) == ["manual", "trasig"]
    assert ids(filter_rows(all_rows, replaced=True)) == ["fall", "halka"]
    assert ids(filter_rows(all_rows, collections=["preschool"])) == ["cross", "manual"]
    assert ids(filter_rows(all_rows, query="enhetschef")) == ["nycklar"]
    assert ids(filter_rows(all_rows, query="HALKA 2099")) == ["halka-2099"]


def test_overdue_and_due_soon_lists() -> None:
    all_rows = list(rows().values())
    assert [r.doc_id for r in overdue(all_rows, TODAY)] == ["nycklar"]
    assert [r.doc_id for r in due_within(all_rows, 30, TODAY)] == ["halka", "fall-2025"]
