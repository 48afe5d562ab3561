"""The top bar: who is asking (role and collections), the answer language, and where answers come from."""

from __future__ import annotations

from textual.widgets import Select, Static

from assist.languages import LANGUAGE_NAMES
from assist.roles import ROLES, collections_for

AUTO = "auto"
ALL = "all"


class RolePicker(Select[str]):
    """The role decides which collections are searched (its own plus general)."""

    def __init__(self, role: str, *, fixed: bool) -> None:
        options = [(f"Role: {r}", r) for r in ROLES]
        if fixed:
            options = [("Role: set by token", role)]
        super().__init__(options, value=role, allow_blank=False, compact=True, id="role", disabled=fixed)


class CollectionPicker(Select[str]):
    """Narrows the search to one of the role's collections, where the backend can."""

    def __init__(self, role: str, *, enabled: bool) -> None:
        super().__init__(
            self.options_for(role), value=ALL, allow_blank=False, compact=True, id="collection", disabled=not enabled
        )

    @staticmethod
    def options_for(role: str) -> list[tuple[str, str]]:
        readable = collections_for(role) if role in ROLES else []
        return [(f"In: {' + '.join(readable) or 'all'}", ALL)] + [(f"In: {c}", c) for c in readable]


class LanguagePicker(Select[str]):
    """The answer language; 'auto' answers in the question's language."""

    def __init__(self, language: str | None) -> None:
        options = [("Lang: auto", AUTO)] + [(f"Lang: {code} {name}", code) for code, name in LANGUAGE_NAMES.items()]
        value = language if language in LANGUAGE_NAMES else AUTO
        super().__init__(options, value=value, allow_blank=False, compact=True, id="language")


class StatusLabel(Static):
    """Where the answers come from, and whether one is being written."""
