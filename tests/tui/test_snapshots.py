"""Snapshots of the main screens at 80x24 and one larger size, from a scripted backend and a fixed clock."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.conftest import FakeBackend
from tui.app import AssistApp
from tui.history import HistoryStore


async def steady(pilot: Pilot) -> None:
    """A steady cursor in every input, so that the picture does not depend on the blink phase (a loaded machine
    takes longer than a blink to lay out an answer)."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def ask(pilot: Pilot, *questions: str) -> None:
    for question in questions:
        pilot.app.query_one("#question", Input).value = question
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    await steady(pilot)


async def settle(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await steady(pilot)


def test_start_screen(snap_compare, fake_backend: FakeBackend, history: HistoryStore) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(AssistApp(fake_backend, history), run_before=settle)


def test_cited_answer_with_second_source_selected(snap_compare, fake_backend, history) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await ask(pilot, "How does a child get a library card?")
        await pilot.press("ctrl+s", "down", "enter")

    assert snap_compare(AssistApp(fake_backend, history), run_before=run_before)


def test_conversation_on_a_larger_terminal(snap_compare, fake_backend, history) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await ask(pilot, "How does a child get a library card?", "And can we book a room?")

    assert snap_compare(AssistApp(fake_backend, history), run_before=run_before, terminal_size=(120, 36))


def test_history_screen(snap_compare, fake_backend, history) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await ask(pilot, "How does a child get a library card?", "And can we book a room?")
        await pilot.press("ctrl+n")
        await ask(pilot, "What does a pizza cost on the moon?")
        await pilot.press("ctrl+r")
        await settle(pilot)

    assert snap_compare(AssistApp(fake_backend, history), run_before=run_before)


def test_bad_answer_reason_dialog(snap_compare, fake_backend, history) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await ask(pilot, "And can we book a room?")
        await pilot.press("ctrl+t", *"wrong room")
        await steady(pilot)

    assert snap_compare(AssistApp(fake_backend, history), run_before=run_before)


def test_server_down_notification(snap_compare, down_backend, history) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await ask(pilot, "How does a child get a library card?")

    assert snap_compare(AssistApp(down_backend, history), run_before=run_before)


def test_closest_answer(snap_compare, fake_backend, history) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        await ask(pilot, "Can I borrow a laptop?")

    assert snap_compare(AssistApp(fake_backend, history), run_before=run_before)
