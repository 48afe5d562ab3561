"""The toolbar says who is asking and what is searched; the sources pane lists each routine once; keys that a
terminal multiplexer keeps for itself are not used."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from assist.roles import load_roles
from assist.schemas import Answer, Citation
from tests.conftest import ROLES_CITY
from tests.tui.conftest import FakeBackend
from tui import cli
from tui.app import AssistApp
from tui.backends import RemoteBackend
from tui.history import HistoryStore
from tui.widgets import CollectionPicker, ReasonScreen, RolePicker, SourceList

pytestmark = pytest.mark.anyio


def label(picker: RolePicker | CollectionPicker) -> str:
    """What the picker shows in the toolbar."""
    return str(picker.query_one("#label", Static).render())


def offered(picker: RolePicker | CollectionPicker) -> list[str]:
    return [value for _, value in picker._options if isinstance(value, str)]


async def test_the_in_process_role_picker_offers_staff_roles_only(history: HistoryStore) -> None:
    app = AssistApp(FakeBackend(), history, roles=load_roles(ROLES_CITY))
    async with app.run_test():
        picker = app.query_one(RolePicker)
        assert offered(picker) == [
            "home-care",
            "owner-home-care",
            "preschool",
            "library",
            "family-services",
            "reception",
        ]
        assert "admin" not in offered(picker)


async def test_an_administrators_role_falls_back_to_the_first_staff_role(history: HistoryStore) -> None:
    app = AssistApp(FakeBackend(), history, role="admin", roles=load_roles())
    async with app.run_test():
        assert app.role == "home-care"
        assert label(app.query_one(RolePicker)) == "Role: home-care"


def test_run_tui_refuses_an_administrators_role_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
    started: list[AssistApp] = []
    monkeypatch.setattr(AssistApp, "run", lambda self, *a, **k: started.append(self))
    with pytest.raises(ValueError, match="asks as staff: use one of home-care, preschool, library"):
        cli.run_tui(None, None, "admin", None, None)
    assert started == []
    # Remote, the token decides the role: nothing to refuse here.
    cli.run_tui("http://127.0.0.1:9", "t", "admin", None, None)
    assert len(started) == 1


async def test_remote_mode_says_the_token_decides_role_and_collections(history: HistoryStore) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "ready", "checks": {}}))
    backend = RemoteBackend("http://assist.test:8000", "t", transport=transport)
    app = AssistApp(backend, history, role="home-care", roles=load_roles())
    try:
        async with app.run_test() as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert label(app.query_one(RolePicker)) == "Role: set by token"
            collection = app.query_one(CollectionPicker)
            # Not the collections of the local default role ("In: home_care + general"), which plays no part.
            assert label(collection) == "In: set by token"
            assert offered(collection) == ["all"]
            assert collection.disabled
            assert "server http://assist.test:8000" in str(app.query_one("#status", Static).render())
            assert app.query_one("#question", Input).has_focus
    finally:
        backend.close()


#: Two passages of the falls routine and one of the keys routine: three citations, two routines.
FALL = Answer(
    answer="Call 112 if the client is hurt [1]. Do not lift the client alone [3]. Note the key [2].",
    citations=[
        Citation(
            n=1,
            doc_id="fall",
            title="Fall hos brukare",
            source="home_care/fall.md",
            section="Fall > Akut",
            collection="home_care",
            quote="Ring 112 om brukaren är skadad.",
        ),
        Citation(
            n=2,
            doc_id="nycklar",
            title="Nyckelhantering",
            source="home_care/nycklar.md",
            section="Nycklar",
            collection="home_care",
            quote="Kvittera nyckeln.",
        ),
        Citation(
            n=3,
            doc_id="fall",
            title="Fall hos brukare",
            source="home_care/fall.md",
            section="Fall > Lyft",
            collection="home_care",
            quote="Lyft aldrig brukaren ensam.",
        ),
    ],
    language="en",
    generator="fake",
)


async def test_the_sources_pane_lists_each_routine_once_with_all_its_passages(history: HistoryStore) -> None:
    app = AssistApp(FakeBackend({"fall": FALL}), history)
    async with app.run_test() as pilot:
        app.query_one("#question", Input).value = "What do I do after a fall?"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        sources = app.query_one(SourceList)
        lines = [str(sources.get_option_at_index(i).prompt) for i in range(sources.option_count)]
        assert lines == ["[1, 3] Fall hos brukare", "[2] Nyckelhantering"]
        assert sources.border_subtitle == "2"
        # The routine's passages, each under its number and section, the file named once.
        text = str(app.query_one("#passage-text", Static).render())
        assert text.startswith("[1, 3] Fall hos brukare\nhome_care/fall.md\n\n")
        assert text.count("home_care/fall.md") == 1
        assert "[1] Fall > Akut\n\u201cRing 112 om brukaren är skadad.\u201d" in text
        assert "[3] Fall > Lyft\n\u201cLyft aldrig brukaren ensam.\u201d" in text
        await pilot.press("ctrl+s", "down", "enter")
        text = str(app.query_one("#passage-text", Static).render())
        assert text.startswith("[2] Nyckelhantering\nNycklar\nhome_care/nycklar.md\n\n\u201cKvittera nyckeln.\u201d")


#: The prefix keys of tmux (Ctrl+B) and GNU screen (Ctrl+A): inside them the app never receives these.
MULTIPLEXER_PREFIXES = {"ctrl+b", "ctrl+a"}


async def test_no_key_is_a_terminal_multiplexers_prefix(history: HistoryStore) -> None:
    app = AssistApp(FakeBackend(), history)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = {key for binding in app.BINDINGS for key in binding.key.split(",")}  # type: ignore[union-attr]
        assert not keys & MULTIPLEXER_PREFIXES
        app.query_one("#question", Input).value = "Can we book a room?"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        # The footer shows the key that rates an answer down, and it opens the reason dialog.
        bad = next(k for k in app.screen.query(FooterKey) if k.action == "feedback('down')")
        assert bad.key == "ctrl+t"
        assert bad.region.right <= 80
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
