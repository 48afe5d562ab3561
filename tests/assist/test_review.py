"""Review dates in the core: which routines are overdue, and the notice an answer citing one carries."""

from datetime import date

from assist.review import REVIEW_NOTICE, is_overdue, review_notices

TODAY = date(2026, 12, 6)


def test_overdue_means_a_date_before_today() -> None:
    assert is_overdue("2026-12-05", TODAY)
    assert not is_overdue("2026-12-06", TODAY)
    assert not is_overdue("", TODAY)
    assert not is_overdue("next spring", TODAY)  # an unreadable date is never called overdue


def test_one_notice_per_overdue_routine_in_the_answer_s_language() -> None:
    cited = [
        {"doc_id": "nycklar", "title": "Nyckelhantering", "review_date": "2026-03-01"},
        {"doc_id": "nycklar", "title": "Nyckelhantering", "review_date": "2026-03-01"},
        {"doc_id": "fall", "title": "Fall", "review_date": "2027-01-01"},
        {"doc_id": "kontakter"},
    ]
    notices = review_notices(cited, "en", TODAY)
    assert notices == [REVIEW_NOTICE["en"].format(day="2026-03-01", title="Nyckelhantering")]
    assert notices[0].startswith("This routine was due for review on 2026-03-01")
    assert "2026-03-01" in review_notices(cited, "sv", TODAY)[0]
    assert "2026-03-01" in review_notices(cited, "so", TODAY)[0]  # English where the language has no phrase
