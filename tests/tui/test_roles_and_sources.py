"""The toolbar says who is asking and what is searched; the sources pane lists each routine once; keys that a
terminal multiplexer keeps for itself are not used."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Input, Static

from assist.roles import load_roles
from tests.conftest import ROLES_CITY
from tests.tui.conftest import FakeBackend
from tui import cli
from tui.app import AssistApp
from tui.backends import RemoteBackend
from tui.history import HistoryStore
from tui.widgets import CollectionPicker, RolePicker

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
