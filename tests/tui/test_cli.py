"""`run_tui`, which `assist tui` calls: picks the backend, keeps history under data_dir, closes what it opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui import cli
from tui.app import AssistApp
from tui.backends import LocalBackend, RemoteBackend


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[AssistApp]:
    monkeypatch.setenv("ASSIST_DATA_DIR", str(tmp_path))
    apps: list[AssistApp] = []
    monkeypatch.setattr(AssistApp, "run", lambda self, *a, **k: apps.append(self))
    return apps


def test_local_mode_over_a_given_store(started: list[AssistApp], tmp_path: Path) -> None:
    cli.run_tui(None, None, "library", tmp_path / "store", "en")
    (app,) = started
    assert isinstance(app.backend, LocalBackend)
    assert app.backend.settings.store_path == tmp_path / "store"
    assert (app.role, app.language) == ("library", "en")
    assert (tmp_path / "tui.sqlite").exists()


def test_remote_mode_with_a_token(started: list[AssistApp]) -> None:
    cli.run_tui("http://127.0.0.1:8000", "token", "library", None, None)
    (app,) = started
    assert isinstance(app.backend, RemoteBackend)
    assert not app.backend.picks_role


def test_unknown_role_is_refused_before_starting(started: list[AssistApp]) -> None:
    with pytest.raises(ValueError, match="use one of home-care, preschool, library, admin"):
        cli.run_tui(None, None, "janitor", None, None)
    assert started == []


def test_any_role_of_the_configured_file_and_its_first_by_default(
    started: list[AssistApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import ROLES_CITY  # noqa: PLC0415

    monkeypatch.setenv("ASSIST_ROLES_FILE", str(ROLES_CITY))
    cli.run_tui(None, None, "family-services", None, None)
    cli.run_tui(None, None, None, None, None)
    assert [app.role for app in started] == ["family-services", "home-care"]
    assert len(started[0].roles.names) == 7


def test_a_malformed_roles_file_is_refused_before_starting(
    started: list[AssistApp], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from assist.errors import ConfigError  # noqa: PLC0415

    bad = tmp_path / "roles.toml"
    bad.write_text("[roles.library]\ncollections = ['library']\nowns = ['general']\n", encoding="utf-8")
    monkeypatch.setenv("ASSIST_ROLES_FILE", str(bad))
    with pytest.raises(ConfigError, match=r"roles\.toml is not valid: \[roles\.library\]: owns \['general'\]"):
        cli.run_tui(None, None, "library", None, None)
    assert started == []
