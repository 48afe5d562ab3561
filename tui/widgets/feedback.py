"""Asks why an answer was bad; the reason is optional and only what the user types is kept."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ReasonScreen(ModalScreen[str | None]):
    """Returns the reason typed (possibly empty), or None when the user cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-box"):
            yield Label("Why was the answer bad? Optional: Enter saves, Esc cancels.")
            yield Input(placeholder="e.g. wrong routine, out of date, missing step", id="reason")

    @on(Input.Submitted, "#reason")
    def save(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
