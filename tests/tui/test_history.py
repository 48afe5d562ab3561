"""The local history and feedback store."""

from __future__ import annotations

import sqlite3

import pytest

from tests.tui.conftest import LOAN_CARD, REFUSED, ROOM
from tui.history import HistoryStore


def test_turns_round_trip_in_order(history: HistoryStore) -> None:
    conv = history.start_conversation("library")
    first = history.add_turn(conv, "library", None, "How does a child get a card?", LOAN_CARD)
    second = history.add_turn(conv, "library", "en", "And a room?", ROOM)
    turns = history.conversation(conv)
    assert [t.id for t in turns] == [first, second]
    assert turns[0].answer == LOAN_CARD
    assert turns[1].language == "en"
    assert turns[0].time < turns[1].time


def test_search_matches_question_or_answer_any_case_newest_first(history: HistoryStore) -> None:
    conv = history.start_conversation("library")
    history.add_turn(conv, "library", None, "How does a child get a card?", LOAN_CARD)
    history.add_turn(conv, "library", None, "And a room?", ROOM)
    history.add_turn(conv, "library", None, "Pizza on the moon?", REFUSED)
    assert [t.question for t in history.search("")] == [
        "Pizza on the moon?",
        "And a room?",
        "How does a child get a card?",
    ]
    assert [t.question for t in history.search("GUARDIAN")] == ["How does a child get a card?"]
    assert [t.question for t in history.search("room")] == ["And a room?"]
    # LIKE wildcards in the search text are taken literally.
    assert history.search("%") == []
    assert history.search("_") == []


def test_feedback_rejects_unknown_ratings(history: HistoryStore) -> None:
    conv = history.start_conversation("library")
    turn = history.add_turn(conv, "library", None, "q", ROOM)
    with pytest.raises(ValueError, match="up or down"):
        history.add_feedback(turn, "meh", "library", ROOM)
    history.add_feedback(turn, "down", "library", ROOM, reason="  out of date ")
    assert history.feedback()[0]["reason"] == "out of date"


def test_history_lives_in_the_data_dir_and_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = HistoryStore.in_data_dir(tmp_path / "data")
    conv = store.start_conversation("library")
    store.add_turn(conv, "library", None, "How does a child get a card?", LOAN_CARD)
    store.close()
    assert (tmp_path / "data" / "tui.sqlite").exists()
    again = HistoryStore.in_data_dir(tmp_path / "data")
    assert [t.question for t in again.search("card")] == ["How does a child get a card?"]
    again.close()
    columns = [r[1] for r in sqlite3.connect(tmp_path / "data" / "tui.sqlite").execute("PRAGMA table_info(feedback)")]
    assert columns == [
        "id",
        "time",
        "question_id",
        "rating",
        "reason",
        "role",
        "answer_doc_ids",
        "refused",
        "fallback",
        "generator",
        "language",
    ]
