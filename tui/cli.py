"""Starts the terminal client: `assist tui` in-process over the local store, or against `assist serve`."""

from __future__ import annotations

import os
from pathlib import Path

from assist.settings import Settings
from tui.app import AssistApp
from tui.backends import make_backend
from tui.history import HistoryStore


def run_tui(
    url: str | None = None,
    token: str | None = None,
    role: str | None = None,
    store: Path | None = None,
    language: str | None = None,
) -> None:
    """Run the app until the user quits; with `url`, answers come from that server and the token decides the role.

    `role` defaults to the first role of the roles file; an unknown role or a malformed file stops here, clearly.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    roles = settings.roles
    role = role or roles.names[0]
    roles.role(role)
    backend = make_backend(url, token, store, settings)
    history = HistoryStore.in_data_dir(settings.data_dir)
    try:
        AssistApp(backend, history, role=role, language=language, roles=roles).run()
    finally:
        backend.close()
        history.close()
