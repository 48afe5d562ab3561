"""Starts the terminal client: `assist tui` in-process over the local store, or against `assist serve`."""

from __future__ import annotations

import os
from pathlib import Path

from assist.errors import UnknownRoleError
from assist.settings import Settings
from tui.app import AssistApp
from tui.backends import make_backend
from tui.history import HistoryStore
from tui.widgets.toolbar import staff_roles


def run_tui(
    url: str | None = None,
    token: str | None = None,
    role: str | None = None,
    store: Path | None = None,
    language: str | None = None,
) -> None:
    """Run the app until the user quits; with `url`, answers come from that server and the token decides the role.

    `role` defaults to the first staff role of the roles file; an unknown role, an administrator's role in-process
    (the client asks as staff) or a malformed file stops here, clearly.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    roles = settings.roles
    staff = staff_roles(roles)
    role = role or staff[0]
    roles.role(role)
    if url is None and role not in staff:
        msg = (
            f"Role {role!r} administers the service; the terminal client asks as staff: "
            f"use one of {', '.join(staff)} (or --url with a token, where the server decides)."
        )
        raise UnknownRoleError(msg)
    backend = make_backend(url, token, store, settings)
    history = HistoryStore.in_data_dir(settings.data_dir)
    try:
        AssistApp(backend, history, role=role, language=language, roles=roles).run()
    finally:
        backend.close()
        history.close()
