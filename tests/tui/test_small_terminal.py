"""At 80x24 a long answer is read from its start: the chat shows its first line, and the footer names the chat key."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from assist.schemas import Answer, Citation
from tests.tui.conftest import ROOM, FakeBackend
from tui.app import AssistApp
from tui.history import HistoryStore
from tui.widgets import AnswerView, ChatView

pytestmark = pytest.mark.anyio

SIZE = (80, 24)
FIRST_LINE = "Call 112 first if the client is hurt [1]."
#: Far longer than the chat pane at 80x24 (about 18 rows).
FALL = Answer(
    answer="\n\n".join(
        [FIRST_LINE, *(f"{i}. Step {i} of the falls routine, written out in full [1]." for i in range(1, 31))]
    ),
    citations=[
        Citation(
            n=1,
            doc_id="fall",
            title="Fall hos brukare",
            source="home_care/fall.md",
            section="Fall",
            collection="home_care",
            quote="Ring 112 om brukaren är skadad.",
        )
    ],
    language="en",
    generator="fake",
)


async def ask(pilot, question: str) -> None:  # type: ignore[no-untyped-def]
    pilot.app.query_one("#question", Input).value = question
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def visible_rows(chat: ChatView) -> range:
    """The chat's rows in view, in the chat's own (scrolled) coordinates."""
    top = round(chat.scroll_offset.y)
    return range(top, top + chat.scrollable_content_region.height)


def first_answer_row(view: AnswerView) -> int:
    """The row, in the chat's coordinates, of the answer's first line of text."""
    first_block = view.children[0]
    return view.virtual_region.y + first_block.virtual_region.y + first_block.styles.margin.top


async def test_a_long_answer_opens_at_its_first_line(history: HistoryStore) -> None:
    app = AssistApp(FakeBackend({"room": ROOM, "fall": FALL}), history)
    async with app.run_test(size=SIZE) as pilot:
        # An earlier exchange, so that the new answer does not start at the top of the chat anyway.
        await ask(pilot, "Can we book a room?")
        await ask(pilot, "What do I do after a fall?")
        chat = app.query_one(ChatView)
        view = app.query(AnswerView)[-1]
        assert FIRST_LINE in view.source
        # The answer is longer than the pane, and the chat is not at its bottom: the start is what is shown.
        assert chat.max_scroll_y > 0
        assert round(chat.scroll_offset.y) < chat.max_scroll_y
        rows = visible_rows(chat)
        assert view.question is not None
        assert view.question.virtual_region.y in rows
        assert first_answer_row(view) in rows
        # PgDn from the input scrolls the chat on; PgUp brings the start back.
        assert app.query_one("#question", Input).has_focus
        before = chat.scroll_offset.y
        await pilot.press("pagedown")
        await pilot.pause()
        assert chat.scroll_offset.y > before
        await pilot.press("pageup")
        await pilot.pause()
        assert chat.scroll_offset.y == before


async def test_the_footer_shows_the_key_that_focuses_the_chat(history: HistoryStore) -> None:
    app = AssistApp(FakeBackend({"fall": FALL}), history)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What do I do after a fall?")
        keys = {k.action: k for k in app.screen.query(FooterKey)}
        chat_key = keys["focus_chat"]
        # Shown in full on an 80-column screen, not cut off past its edge.
        assert chat_key.region.width > 0
        assert chat_key.region.right <= SIZE[0]
        assert "Chat" in str(chat_key.render())
        await pilot.press(chat_key.key)
        await pilot.pause()
        assert app.query_one(ChatView).has_focus
