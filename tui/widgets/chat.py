"""The chat pane: questions as plain text, answers streamed in as Markdown, styled by what the answer is."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from assist.schemas import Answer
from assist.states import closest_heading, no_direct_answer, not_mentioned

WELCOME = (
    "Ask about the routines, e.g. *Vad behöver ett barn för att få lånekort?*\n\n"
    "Answers cite their sources: pick one on the right to read the passage."
)


class QuestionBubble(Static):
    """A question as the user typed it (never read as markup)."""

    def __init__(self, question: str) -> None:
        super().__init__(question, markup=False)


def _escape(text: str) -> str:
    """Text shown literally inside Markdown (uncovered terms come from the user's question)."""
    return "".join(f"\\{ch}" if ch in "\\`*_[]<>#|~" else ch for ch in text)


def closest_markdown(answer: Answer) -> str:
    """A closest answer: the plain statement and the uncovered terms first, the routines' text as a quotation."""
    parts = [f"**\u26a0 {_escape(no_direct_answer(answer))}**"]
    if answer.uncovered:
        parts.append(_escape(not_mentioned(answer)))
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in answer.answer.strip().splitlines())
    parts += [f"*{_escape(closest_heading(answer))}:*", quoted]
    return "\n\n".join(parts)


class AnswerView(Markdown):
    """One answer: streamed text first (a draft), then the final cited text styled by its status, with notices.

    Classes: `-draft` while text streams in (nothing yet says whether it answers the question), then one of
    `-answered`, `-closest` (the closest routines, never styled as an answer) or `-refused`.
    """

    STATES = ("answered", "closest", "refused")

    def __init__(self) -> None:
        super().__init__("*…searching the routines*", classes="-draft")
        self.answer: Answer | None = None
        self.turn_id: int | None = None
        #: The question this answers, shown just above it: where reading the answer starts.
        self.question: QuestionBubble | None = None
        self._stream: MarkdownStream | None = None
        self._streamed = False

    async def write(self, fragment: str) -> None:
        """Append streamed text; the placeholder goes on the first fragment."""
        if not fragment:
            return
        if self._stream is None:
            await self.update("")
            self._stream = Markdown.get_stream(self)
        self._streamed = True
        await self._stream.write(fragment)

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def show_answer(self, answer: Answer, turn_id: int | None) -> None:
        """Replace the streamed text with the final answer (citation numbers may have been checked since)."""
        await self._stop_stream()
        self.answer, self.turn_id = answer, turn_id
        self.remove_class("-draft")
        for state in self.STATES:
            self.set_class(answer.status == state, f"-{state}")
        text = closest_markdown(answer) if answer.status == "closest" else answer.answer
        if answer.notices:
            text += "\n\n" + "\n".join(f"> {note}" for note in answer.notices)
        await self.update(text)

    async def show_error(self, message: str) -> None:
        await self._stop_stream()
        self.remove_class("-draft")
        self.add_class("-error")
        await self.update(f"*No answer:* {message}")


class ChatView(VerticalScroll):
    """The conversation so far, newest at the bottom.

    A new answer is shown from its start: the chat scrolls to its question, never to the bottom, so that on a small
    terminal the answer's first lines are the ones in view; the rest is a scroll away (PgDn, also from the input).
    """

    can_focus = True

    async def reset(self) -> None:
        await self.remove_children()
        await self.mount(Markdown(WELCOME, classes="welcome"))

    async def add_question(self, question: str) -> AnswerView:
        """Show the question and return the (still empty) view its answer will stream into."""
        await self.remove_children(".welcome")
        view = AnswerView()
        view.question = QuestionBubble(question)
        await self.mount_all([view.question, view])
        self.show_start(view)
        return view

    def show_start(self, view: AnswerView) -> None:
        """Scroll so that `view`'s question and the first lines of its answer are at the top (after the layout
        that the answer's new text needs)."""
        target = view.question or view
        self.call_after_refresh(self.scroll_to_widget, target, top=True, animate=False, immediate=True)

    def answer_views(self) -> list[AnswerView]:
        return list(self.query(AnswerView))
