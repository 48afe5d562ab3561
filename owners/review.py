"""Review dates for owners: the routines past their review date (still answered from, with a notice) and those due
soon, oldest first. Whether a date has passed is decided by the core (assist.review), as answers decide it.
"""

from collections.abc import Iterable
from datetime import date, timedelta

from assist.review import is_overdue, parse_day
from owners.inventory import DocumentRow


def overdue(rows: Iterable[DocumentRow], today: date | None = None) -> list[DocumentRow]:
    """Routines in the store whose review date has passed, the longest overdue first; a replaced routine is no
    longer answered from, so it is never overdue.
    """
    late = [r for r in rows if r.chunks and not r.replaced and is_overdue(r.review_date, today)]
    return sorted(late, key=lambda r: (r.review_date, r.collection, r.doc_id))


def due_within(rows: Iterable[DocumentRow], days: int, today: date | None = None) -> list[DocumentRow]:
    """Routines in force whose review date falls in the next `days` days (today included), soonest first."""
    start = today or date.today()
    end = start + timedelta(days=days)
    soon = [r for r in rows
            if r.chunks and not r.replaced and (d := parse_day(r.review_date)) is not None and start <= d <= end]
    return sorted(soon, key=lambda r: (r.review_date, r.collection, r.doc_id))
