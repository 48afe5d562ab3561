"""The terminal client: chat with streamed Markdown answers, a sources pane, history and feedback keys."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, OptionList, Select
from textual.worker import get_current_worker

from assist.errors import AssistError
from assist.roles import Roles, configured_roles
from assist.schemas import Answer
from assist.states import closest_heading, closest_preamble
from tui.backends import Backend, Turn
from tui.history import HistoryStore
from tui.widgets import (
    AnswerView,
    ChatView,
    CollectionPicker,
    HistoryScreen,
    LanguagePicker,
    PassageView,
    ReasonScreen,
    RolePicker,
    SourceList,
    StatusLabel,
)
from tui.widgets.sources import where
from tui.widgets.toolbar import ALL, AUTO, staff_roles

logger = logging.getLogger(__name__)

#: Earlier turns sent along with a follow-up question; older ones are dropped to keep the prompt short.
MAX_HISTORY_TURNS = 6
CHAT_ACTIONS = {
    "new_conversation",
    "history",
    "focus_chat",
    "scroll_chat",
    "focus_sources",
    "copy_answer",
    "feedback",
    "focus_question",
}


@dataclass
class Exchange:
    """A question of the open conversation and its answer."""

    question: str
    answer: Answer
    turn_id: int | None


def copy_text(answer: Answer) -> str:
    """The answer with its numbered sources, ready to paste into a mail or a ticket.

    A closest answer is pasted as what it is: the plain statement first, the routines' text as a quotation.
    """
    closest = answer.status == "closest"
    if closest:
        quoted = [f"> {line}" for line in answer.answer.strip().splitlines()]
        lines = [*closest_preamble(answer), "", *quoted]
    else:
        lines = [answer.answer.strip()]
    if answer.citations:
        lines += ["", f"{closest_heading(answer)}:" if closest else "Sources:"]
        for c in answer.citations:
            place = f" ({where(c)})" if where(c) else ""
            lines.append(f"[{c.n}] {c.title}{place}: {c.source}")
            lines.append(f"    \u201c{c.quote}\u201d")
    return "\n".join(lines) + "\n"


class AssistApp(App[None]):
    """Frontline Assist in the terminal; `backend` answers, `history` keeps conversations and feedback."""

    CSS_PATH = "app.tcss"
    TITLE = "Frontline Assist"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_conversation", "New", priority=True),
        Binding("ctrl+r", "history", "History"),
        Binding("ctrl+o", "focus_chat", "Chat"),
        Binding("ctrl+s", "focus_sources", "Sources"),
        Binding("ctrl+y", "copy_answer", "Copy"),
        Binding("ctrl+g", "feedback('up')", "Good"),
        # Not Ctrl+B or Ctrl+A: tmux and screen take those as their prefix, so the app would never see them there.
        Binding("ctrl+t", "feedback('down')", "Bad"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("escape", "focus_question", "Ask", show=False),
        # The input has no use for these: from there they scroll the chat (the placeholder says so).
        Binding("pageup", "scroll_chat('up')", "Scroll up", show=False),
        Binding("pagedown", "scroll_chat('down')", "Scroll down", show=False),
    ]

    def __init__(
        self,
        backend: Backend,
        history: HistoryStore,
        *,
        role: str = "library",
        language: str | None = None,
        roles: Roles | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.history = history
        #: The roles the picker offers; default the configured roles file.
        self.roles = roles or configured_roles()
        # A remote backend's token decides the role; in-process, a role the picker lacks falls back to its first.
        staff = staff_roles(self.roles)
        self.role = role if role in staff or not backend.picks_role else staff[0]
        self.language = language
        self.collection = ALL
        self.conversation_id: int | None = None
        self.exchanges: list[Exchange] = []
        self.asking = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Chat actions work on the chat screen only; over history or a dialog they are hidden."""
        return not (action in CHAT_ACTIONS and len(self.screen_stack) > 1)

    def compose(self) -> ComposeResult:
        with Horizontal(id="toolbar"):
            yield RolePicker(self.role, self.roles, fixed=not self.backend.picks_role)
            yield CollectionPicker(
                self.role,
                self.roles,
                enabled=self.backend.picks_role and self.backend.supports_collections,
                by_token=not self.backend.picks_role,
            )
            yield LanguagePicker(self.language)
            yield StatusLabel(self.backend.description, id="status")
        with Horizontal(id="body"):
            yield ChatView(id="chat")
            with Vertical(id="side"):
                yield SourceList(id="sources")
                yield PassageView(id="passage")
        yield Input(placeholder="Ask a question (Enter) · PgUp/PgDn scroll the chat", id="question")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#chat", ChatView).border_title = "Chat"
        self.query_one("#sources", SourceList).border_title = "Sources"
        self.query_one("#passage", PassageView).border_title = "Passage"
        await self.query_one(ChatView).reset()
        self.query_one("#question", Input).focus()
        self.warm_up()

    @work(thread=True, group="warm-up")
    def warm_up(self) -> None:
        """Load models and open the store in the background; a failure is told, and asking will retry."""
        try:
            self.backend.warm_up()
        except AssistError as exc:
            self.call_from_thread(self.notify, str(exc), title="Not ready", severity="error", timeout=10)
        except Exception as exc:
            logger.exception("Warm-up failed")
            self.call_from_thread(self.notify, f"{type(exc).__name__}: {exc}", title="Not ready", severity="error")

    # Asking

    @on(Input.Submitted, "#question")
    async def submit_question(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.asking:
            self.notify("Still answering the last question.", severity="warning")
            return
        event.input.clear()
        self.asking = True
        self.query_one(StatusLabel).update(f"{self.backend.description} · answering…")
        view = await self.query_one(ChatView).add_question(question)
        self._show_sources(None)
        history = self._history_for_follow_up()
        collections = None if self.collection == ALL else [self.collection]
        self.ask(question, view, history, collections)

    def _history_for_follow_up(self) -> list[Turn]:
        turns: list[Turn] = []
        for ex in self.exchanges[-MAX_HISTORY_TURNS:]:
            turns += [{"role": "user", "content": ex.question}, {"role": "assistant", "content": ex.answer.answer}]
        return turns

    @work(thread=True, exclusive=True, group="ask")
    def ask(self, question: str, view: AnswerView, history: list[Turn], collections: list[str] | None) -> None:
        """Ask in a thread and stream the text in; a newer conversation drops this one's result."""
        worker = get_current_worker()
        role, language = self.role, self.language

        def on_text(fragment: str) -> None:
            if not worker.is_cancelled:
                self._on_ui(view.write, fragment)

        try:
            answer = self.backend.ask(question, role, language, history, collections=collections, on_text=on_text)
            conversation_id = self.conversation_id
            if conversation_id is None:
                conversation_id = self.history.start_conversation(role)
            turn_id = self.history.add_turn(conversation_id, role, language, question, answer)
        except AssistError as exc:
            if not worker.is_cancelled:
                self._on_ui(self.show_error, view, str(exc))
            return
        except Exception as exc:
            logger.exception("Asking failed")
            if not worker.is_cancelled:
                self._on_ui(self.show_error, view, f"Unexpected error ({type(exc).__name__}): {exc}")
            return
        if not worker.is_cancelled:
            self._on_ui(self.show_answer, view, Exchange(question, answer, turn_id), conversation_id)

    def _on_ui(self, callback: Callable[..., Coroutine[Any, Any, None]], *args: object) -> None:
        """Run an async UI update from a worker thread and wait for it."""
        # textual types call_from_thread's callback as a union mypy cannot solve for a coroutine function.
        self.call_from_thread(callback, *args)  # type: ignore[arg-type]

    async def show_answer(self, view: AnswerView, exchange: Exchange, conversation_id: int) -> None:
        self.asking = False
        self.conversation_id = conversation_id
        self.exchanges.append(exchange)
        await view.show_answer(exchange.answer, exchange.turn_id)
        self.query_one(ChatView).show_start(view)
        self._show_sources(exchange.answer)
        self.query_one(StatusLabel).update(self.backend.description)
        for note in exchange.answer.notices:
            self.notify(note, severity="warning", timeout=8)

    async def show_error(self, view: AnswerView, message: str) -> None:
        self.asking = False
        await view.show_error(message)
        self.query_one(ChatView).show_start(view)
        self.query_one(StatusLabel).update(self.backend.description)
        self.notify(message, title="No answer", severity="error", timeout=10)

    def _show_sources(self, answer: Answer | None) -> None:
        sources, passage = self.query_one(SourceList), self.query_one(PassageView)
        # A closest answer's citations are the nearest routines, not sources of an answer: the pane says so.
        closest = answer is not None and answer.status == "closest"
        sources.border_title = closest_heading(answer) if answer is not None and closest else "Sources"
        sources.set_class(closest, "-closest")
        passage.set_class(closest, "-closest")
        sources.show_citations(answer.citations if answer else [])
        passage.show(sources.passages_at(0))

    # Sources

    @on(OptionList.OptionHighlighted, "#sources")
    @on(OptionList.OptionSelected, "#sources")
    def show_passage(self, event: OptionList.OptionHighlighted | OptionList.OptionSelected) -> None:
        self.query_one(PassageView).show(self.query_one(SourceList).passages_at(event.option_index))

    def action_focus_chat(self) -> None:
        self.query_one(ChatView).focus()

    def action_scroll_chat(self, direction: str) -> None:
        chat = self.query_one(ChatView)
        if direction == "up":
            chat.scroll_page_up()
        else:
            chat.scroll_page_down()

    def action_focus_sources(self) -> None:
        self.query_one(SourceList).focus()

    def action_focus_question(self) -> None:
        self.query_one("#question", Input).focus()

    # Pickers

    @on(Select.Changed, "#role")
    def role_changed(self, event: Select.Changed) -> None:
        # Remote, the token decides: the picker shows no role whose collections could mean anything here.
        if self.backend.picks_role and isinstance(event.value, str) and event.value in self.roles.roles:
            self.role = event.value
            picker = self.query_one(CollectionPicker)
            picker.set_options(CollectionPicker.options_for(self.role, self.roles))
            picker.value = ALL

    @on(Select.Changed, "#collection")
    def collection_changed(self, event: Select.Changed) -> None:
        self.collection = event.value if isinstance(event.value, str) else ALL

    @on(Select.Changed, "#language")
    def language_changed(self, event: Select.Changed) -> None:
        self.language = None if event.value in (AUTO, Select.NULL) else str(event.value)

    # Conversations

    async def action_new_conversation(self) -> None:
        self.workers.cancel_group(self, "ask")
        self.asking = False
        self.conversation_id = None
        self.exchanges = []
        await self.query_one(ChatView).reset()
        self._show_sources(None)
        self.query_one(StatusLabel).update(self.backend.description)
        self.query_one("#question", Input).focus()

    def action_history(self) -> None:
        if not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen(self.history), self.reopen)

    async def reopen(self, conversation_id: int | None) -> None:
        if conversation_id is None:
            return
        turns = self.history.conversation(conversation_id)
        if not turns:
            return
        await self.action_new_conversation()
        chat = self.query_one(ChatView)
        for turn in turns:
            view = await chat.add_question(turn.question)
            await view.show_answer(turn.answer, turn.id)
            self.exchanges.append(Exchange(turn.question, turn.answer, turn.id))
        self.conversation_id = conversation_id
        if self.backend.picks_role and turns[-1].role in staff_roles(self.roles):
            self.query_one(RolePicker).value = turns[-1].role
        self._show_sources(turns[-1].answer)
        chat.show_start(view)

    # The current answer

    def _current(self) -> Exchange | None:
        if self.exchanges:
            return self.exchanges[-1]
        self.notify("No answer yet: ask a question first.", severity="warning")
        return None

    def action_copy_answer(self) -> None:
        current = self._current()
        if current is None:
            return
        self.copy_to_clipboard(copy_text(current.answer))
        n = len(current.answer.citations)
        self.notify(f"Copied the answer with {n} source{'s' if n != 1 else ''}.")

    def action_feedback(self, rating: str) -> None:
        current = self._current()
        if current is None or current.turn_id is None:
            return
        if rating == "up":
            self._save_feedback(current, "up", "")
            return

        def with_reason(reason: str | None) -> None:
            if reason is not None:
                self._save_feedback(current, "down", reason)

        self.push_screen(ReasonScreen(), with_reason)

    def _save_feedback(self, exchange: Exchange, rating: str, reason: str) -> None:
        assert exchange.turn_id is not None
        self.history.add_feedback(exchange.turn_id, rating, self.role, exchange.answer, reason)
        self.notify("Thanks: feedback saved." if rating == "up" else "Thanks: we will look at this answer.")

    async def on_unmount(self) -> None:
        self.workers.cancel_all()
