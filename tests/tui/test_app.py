"""Pilot tests of the terminal client against a scripted backend: ask, cite, read passages, history, feedback."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Input, Select

from assist.roles import load_roles
from tests.tui.conftest import ROOM, FakeBackend
from tui.app import AssistApp, copy_text
from tui.history import HistoryStore
from tui.widgets import (
    AnswerView,
    ChatView,
    CollectionPicker,
    HistoryList,
    HistoryScreen,
    PassageView,
    QuestionBubble,
    ReasonScreen,
    SourceList,
)

pytestmark = pytest.mark.anyio


def passage_text(app: AssistApp) -> str:
    return str(app.query_one("#passage-text").render())


async def ask(pilot, question: str) -> None:  # type: ignore[no-untyped-def]
    """Type a question, press Enter, and wait for the answer to be shown."""
    app = pilot.app
    app.query_one("#question", Input).focus()
    app.query_one("#question", Input).value = question
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_ask_shows_cited_answer_and_passages(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "How does a child get a library card?")
        answer = app.query_one(AnswerView)
        assert answer.answer is not None
        assert "guardian signs" in answer.source
        assert [b.render().plain for b in app.query(QuestionBubble)] == ["How does a child get a library card?"]
        sources = app.query_one(SourceList)
        assert sources.option_count == 2
        # The first source is shown at once.
        assert "Vem får lånekort" in passage_text(app)

        await pilot.press("ctrl+s")
        assert sources.has_focus
        await pilot.press("down", "enter")
        text = passage_text(app)
        assert "[2] Lånekort, blankett" in text
        assert "page 2 · Vad barnet behöver ta med" in text
        assert "library/lanekort.pdf" in text
        assert "Barnet behöver ingen egen legitimation." in text
    assert fake_backend.calls[0]["role"] == "library"
    assert fake_backend.warmed.is_set()


async def test_follow_up_sends_earlier_turns_and_new_conversation_forgets_them(
    fake_backend: FakeBackend, history: HistoryStore
) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "How does a child get a library card?")
        await ask(pilot, "And can we book a room?")
        assert fake_backend.calls[1]["history"] == [
            {"role": "user", "content": "How does a child get a library card?"},
            {"role": "assistant", "content": fake_backend.answers["card"].answer},
        ]
        # The sources pane follows the newest answer.
        assert app.query_one(SourceList).citations[0].doc_id == "rumsbokning"

        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not app.query(AnswerView)
        assert app.query_one(SourceList).option_count == 0
        await ask(pilot, "How do I book a room?")
        assert fake_backend.calls[2]["history"] == []
    turns = history.search()
    assert len({t.conversation_id for t in turns}) == 2


async def test_history_is_searchable_and_reopens(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "How does a child get a library card?")
        await ask(pilot, "Book a room for the homework club?")
        await pilot.press("ctrl+n")
        await ask(pilot, "What does a pizza cost on the moon?")

        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        listing = app.screen.query_one(HistoryList)
        assert listing.option_count == 3

        await pilot.press(*"homework")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert listing.option_count == 1
        await pilot.press("enter")
        await pilot.pause()

        assert not isinstance(app.screen, HistoryScreen)
        questions = [b.render().plain for b in app.query(QuestionBubble)]
        assert questions == ["How does a child get a library card?", "Book a room for the homework club?"]
        assert app.query_one(SourceList).citations[0].doc_id == "rumsbokning"
        assert "Rooms are booked" in passage_text(app)

        # A follow-up continues the reopened conversation, with its turns as context.
        await ask(pilot, "And the card again?")
        assert len(fake_backend.calls[-1]["history"]) == 4
    reopened = {t.conversation_id for t in history.search("homework")}
    assert {t.conversation_id for t in history.search("card again")} == reopened


async def test_history_escape_returns_to_chat(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "How does a child get a library card?")
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)
        assert len(app.query(AnswerView)) == 1


async def test_feedback_keys_store_rating_role_reason_and_cited_documents(
    fake_backend: FakeBackend, history: HistoryStore
) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+g")  # nothing to rate yet: a warning, no row
        await ask(pilot, "How does a child get a library card?")
        await pilot.press("ctrl+g")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"out of date", "enter")
        await pilot.pause()
        await pilot.press("ctrl+t", "escape")  # cancelled: not stored
        await pilot.pause()
    rows = history.feedback()
    turn_id = history.search()[0].id
    assert [(r["rating"], r["reason"], r["role"], r["question_id"]) for r in rows] == [
        ("up", "", "library", turn_id),
        ("down", "out of date", "library", turn_id),
    ]
    assert rows[0]["answer_doc_ids"] == ["lanekort-barn", "lanekort-barn-pdf"]
    assert set(rows[0]) == {
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
    }


async def test_copy_puts_answer_and_sources_on_the_clipboard(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "How does a child get a library card?")
        await pilot.press("ctrl+y")
        copied = app.clipboard
    assert copied.startswith("A child gets a library card")
    assert "Sources:\n[1] Lånekort för barn (Lånekort för barn > Vem får lånekort): library/lanekort-barn.md" in copied
    assert "[2] Lånekort, blankett (page 2 · Vad barnet behöver ta med): library/lanekort.pdf" in copied
    assert copied == copy_text(fake_backend.answers["card"])


async def test_role_collection_and_language_pickers_reach_the_backend(
    fake_backend: FakeBackend, history: HistoryStore
) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        app.query_one("#role", Select).value = "home-care"
        await pilot.pause()
        collection = app.query_one(CollectionPicker)
        options = CollectionPicker.options_for("home-care", load_roles())
        assert [v for _, v in options] == ["all", "home_care", "general"]
        collection.value = "general"
        app.query_one("#language", Select).value = "en"
        await pilot.pause()
        await ask(pilot, "How does a child get a library card?")
    assert fake_backend.calls[0] | {"history": None} == {
        "question": "How does a child get a library card?",
        "role": "home-care",
        "language": "en",
        "collections": ["general"],
        "history": None,
    }


async def test_refusal_is_marked_and_has_no_sources(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "What does a pizza cost on the moon?")
        assert app.query_one(AnswerView).has_class("-refused")
        assert app.query_one(SourceList).option_count == 0
        assert "Select a source" in passage_text(app)


async def test_down_backend_shows_a_notification_not_a_traceback(
    down_backend: FakeBackend, history: HistoryStore
) -> None:
    app = AssistApp(down_backend, history)
    async with app.run_test(notifications=True) as pilot:
        await ask(pilot, "How does a child get a library card?")
        notes = list(app._notifications)
        assert any(n.severity == "error" and "Cannot reach the server" in n.message for n in notes)
        assert app.query_one(AnswerView).has_class("-error")
        assert app.is_running
        # The interface still takes the next question.
        assert not app.asking
        assert app.query_one("#question", Input).has_focus
    assert history.search() == []


async def test_fallback_notice_is_notified_and_shown(history: HistoryStore) -> None:
    degraded = ROOM.model_copy(update={"fallback": True, "notices": ["The language model could not be reached."]})
    app = AssistApp(FakeBackend({"room": degraded}), history)
    async with app.run_test(notifications=True) as pilot:
        await ask(pilot, "Book a room")
        assert any("could not be reached" in n.message for n in app._notifications)
        assert "could not be reached" in app.query_one(AnswerView).source


async def test_new_conversation_shows_the_welcome_again(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "Book a room")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.query_one(ChatView).query(".welcome")
        assert app.conversation_id is None
        assert "Select a source" in passage_text(app)
        assert isinstance(app.query_one(PassageView), PassageView)


async def test_chat_keys_do_nothing_over_the_history_screen(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "Book a room")
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("ctrl+n", "ctrl+g")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.query(AnswerView)) == 1
    assert history.feedback() == []


async def test_closest_answer_is_marked_as_closest_routines(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "Can I borrow a laptop?")
        view = app.query_one(AnswerView)
        assert view.has_class("-closest")
        assert not view.has_class("-answered") and not view.has_class("-draft")
        lines = view.source.split("\n\n")
        assert lines[0] == "**\u26a0 The routines do not answer this directly.**"
        assert lines[1] == "No routine mentions: laptop."
        assert lines[2] == "*Closest routines:*"
        # The routines' text is a quotation, every line of it.
        assert all(line.startswith(">") for line in "\n\n".join(lines[3:]).splitlines())
        assert view.query("MarkdownBlockQuote")

        sources = app.query_one(SourceList)
        assert sources.border_title == "Closest routines"
        assert sources.has_class("-closest")
        text = passage_text(app)
        assert text.startswith("Closest routine: it does not answer the question directly.")
        # The table row keeps its headers, one cell per line.
        assert "\u201cBöcker och ljudböcker\n  Lånetid: 28 dagar\n  Omlån: Upp till 3 gånger\u201d" in text

        await ask(pilot, "How does a child get a library card?")
        assert app.query(AnswerView)[-1].has_class("-answered")
        assert sources.border_title == "Sources"
        assert not sources.has_class("-closest")
        assert not passage_text(app).startswith("Closest routine")


async def test_closest_answer_copies_as_what_it_is(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "Can I borrow a laptop?")
        await pilot.press("ctrl+y")
        copied = app.clipboard
    assert copied.startswith(
        "The routines do not answer this directly.\nNo routine mentions: laptop.\n\n"
        "> Books and audiobooks are lent for 28 days [1].\n"
    )
    assert "\nClosest routines:\n[1] Lån och omlån" in copied
    assert "Sources:" not in copied


async def test_reopened_closest_answer_keeps_its_look(fake_backend: FakeBackend, history: HistoryStore) -> None:
    app = AssistApp(fake_backend, history)
    async with app.run_test() as pilot:
        await ask(pilot, "Can I borrow a laptop?")
        conversation = app.conversation_id
        await pilot.press("ctrl+n")
        await pilot.pause()
        await app.reopen(conversation)
        await pilot.pause()
        assert app.query_one(AnswerView).has_class("-closest")
        assert app.query_one(SourceList).border_title == "Closest routines"


async def test_streamed_text_is_a_draft_until_the_answer_says_what_it_is(history: HistoryStore) -> None:
    release = threading.Event()

    class HeldBackend(FakeBackend):
        """Streams the text, then holds the final answer until the test has looked."""

        def ask(self, *args, on_text=None, **kwargs):  # type: ignore[no-untyped-def]
            def held(fragment: str) -> None:
                assert on_text is not None
                on_text(fragment)
                release.wait(timeout=30)

            return super().ask(*args, on_text=held, **kwargs)

    app = AssistApp(HeldBackend(), history)
    async with app.run_test() as pilot:
        app.query_one("#question", Input).value = "Can I borrow a laptop?"
        await pilot.press("enter")
        view = app.query_one(AnswerView)
        for _ in range(100):
            await pilot.pause(0.05)
            if "28 days" in view.source or "Books" in view.source:
                break
        assert view.has_class("-draft")
        assert not view.has_class("-closest") and not view.has_class("-answered")
        release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert view.has_class("-closest") and not view.has_class("-draft")
