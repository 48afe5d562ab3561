"""The history screen: earlier questions, searchable; Enter reopens the conversation."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.history import HistoryStore, TurnRecord


class HistoryList(OptionList):
    """One line per earlier question: when, which role, and the question."""

    def show_turns(self, turns: list[TurnRecord]) -> None:
        self.set_options(
            Option(
                Content.assemble(
                    (t.time.strftime("%Y-%m-%d %H:%M") + "  ", "dim"), (f"{t.role:<9} ", "italic"), t.question
                ),
                id=f"conversation-{t.conversation_id}-{t.id}",
            )
            for t in turns
        )
        if turns:
            self.highlighted = 0


class HistoryScreen(Screen[int | None]):
    """Returns the id of the conversation to reopen, or None."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("down", "to_list", "List", show=False),
    ]

    def __init__(self, store: HistoryStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Static("History: type to search questions and answers, Enter reopens", id="history-title")
        yield Input(placeholder="Search history", id="history-search")
        yield HistoryList(id="history-list")
        yield Footer()

    def on_mount(self) -> None:
        self.search("")

    @on(Input.Changed, "#history-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @work(thread=True, exclusive=True, group="history-search")
    def search(self, text: str) -> None:
        """SQLite off the UI thread; a newer search replaces an older one."""
        turns = self.store.search(text)
        self.app.call_from_thread(self.query_one(HistoryList).show_turns, turns)

    @on(Input.Submitted, "#history-search")
    def open_highlighted(self) -> None:
        history = self.query_one(HistoryList)
        if history.highlighted is not None:
            self._open(history.get_option_at_index(history.highlighted))

    @on(OptionList.OptionSelected, "#history-list")
    def open_selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option)

    def _open(self, option: Option) -> None:
        if option.id:
            self.dismiss(int(option.id.split("-")[1]))

    def action_to_list(self) -> None:
        self.query_one(HistoryList).focus()

    def action_close(self) -> None:
        self.dismiss(None)
