"""Review dates: a routine past its `review_date` is still answered from, and the answer says it was due for review.

Every surface shows `Answer.notices`, so the notice is made here, in the core, once for all of them.
"""

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from assist.languages import phrase

REVIEW_NOTICE = {
    "sv": "Rutinen ”{title}” skulle ha granskats senast {day}: kontrollera med rutinens ägare att den gäller.",
    "en": "This routine was due for review on {day} (“{title}”): check with its owner that it still applies.",
}


def parse_day(value: Any) -> date | None:
    """An ISO date (`2026-05-01`, or the date part of a timestamp); None for anything else."""
    text = str(value or "").strip()[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def is_overdue(review_date: Any, today: date | None = None) -> bool:
    """True when `review_date` is a date before `today`; a missing or unreadable date is never overdue."""
    day = parse_day(review_date)
    return day is not None and day < (today or date.today())


def review_notices(
    cited: Iterable[Mapping[str, Any]], language: str = "sv", today: date | None = None
) -> list[str]:
    """One notice per cited routine whose review date has passed, in citation order (each routine once).

    `cited` holds the metadata of the cited passages (`doc_id`, `title`, `review_date`).
    """
    notices: list[str] = []
    seen: set[str] = set()
    for meta in cited:
        doc_id = str(meta.get("doc_id") or "")
        if doc_id in seen or not is_overdue(meta.get("review_date"), today):
            continue
        seen.add(doc_id)
        day = parse_day(meta.get("review_date"))
        title = str(meta.get("title") or doc_id)
        notices.append(phrase(REVIEW_NOTICE, language).format(day=day.isoformat() if day else "", title=title))
    return notices
