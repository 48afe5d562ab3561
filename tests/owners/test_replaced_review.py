"""A replaced routine is no longer answered from: it is never flagged overdue nor listed as due for review, while a
routine whose replacement starts on a future day stays in force and keeps its review date.
"""

from datetime import date

from owners.inventory import build_inventory, filter_rows
from owners.review import due_within, overdue
from tests.owners.test_inventory import chunk

TODAY = date(2026, 12, 6)
PAYLOADS = [
    chunk("fall", review_date="2026-03-01", valid_from="2024-01-01"),  # past its review date, but replaced
    chunk("fall-2026", replaces="fall", valid_from="2026-06-01", review_date="2027-06-01"),
    chunk("lock", review_date="2026-12-10"),  # due soon, but replaced
    chunk("lock-2026", replaces="lock", valid_from="2026-11-01", review_date="2027-11-01"),
    chunk("halka", review_date="2026-02-01"),  # overdue, its replacement starts in 2099: still in force
    chunk("halka-2099", replaces="halka", valid_from="2099-01-01"),
]


def test_a_replaced_routine_is_not_overdue_nor_due() -> None:
    rows = build_inventory(PAYLOADS, {}, today=TODAY)
    by_id = {r.doc_id: r for r in rows}
    assert by_id["fall"].replaced and not by_id["fall"].review_overdue
    assert [r.doc_id for r in overdue(rows, TODAY)] == ["halka"]
    assert [r.doc_id for r in filter_rows(rows, overdue=True)] == ["halka"]
    assert [r.doc_id for r in due_within(rows, 30, TODAY)] == []
    assert by_id["halka"].review_overdue and by_id["halka"].in_force
