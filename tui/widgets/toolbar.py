"""The top bar: who is asking (role and collections), the answer language, and where answers come from."""

from __future__ import annotations

from textual.widgets import Select, Static

from assist.languages import LANGUAGE_NAMES
from assist.roles import Roles

AUTO = "auto"
ALL = "all"


#: In remote mode the server decides the role, and so what is searched, from the token.
BY_TOKEN = "set by token"


def staff_roles(roles: Roles) -> list[str]:
    """The roles that staff ask as, in file order: every role but the administrators (`admin = true`), who run the
    service rather than ask it; a file of administrators only offers those."""
    staff = [name for name, role in roles.roles.items() if not role.admin]
    return staff or roles.names


class RolePicker(Select[str]):
    """The role decides which collections are searched (those the roles file gives it); staff roles only."""

    def __init__(self, role: str, roles: Roles, *, fixed: bool) -> None:
        options = [(f"Role: {r}", r) for r in staff_roles(roles)]
        if fixed:
            options = [(f"Role: {BY_TOKEN}", role)]
        super().__init__(options, value=role, allow_blank=False, compact=True, id="role", disabled=fixed)


class CollectionPicker(Select[str]):
    """Narrows the search to one of the role's collections, where the backend can.

    With `by_token` (remote mode) the server's token decides the role and so what is searched: the picker says so
    rather than naming the collections of a local role that plays no part.
    """

    def __init__(self, role: str, roles: Roles, *, enabled: bool, by_token: bool = False) -> None:
        super().__init__(
            [(f"In: {BY_TOKEN}", ALL)] if by_token else self.options_for(role, roles),
            value=ALL,
            allow_blank=False,
            compact=True,
            id="collection",
            disabled=not enabled,
        )

    @staticmethod
    def options_for(role: str, roles: Roles) -> list[tuple[str, str]]:
        # A role reading "*" is offered the collections the roles name (the store may hold more; "all" reads them).
        readable = roles.collections_for(role) if role in roles.roles else []
        return [(f"In: {' + '.join(readable) or 'all'}", ALL)] + [(f"In: {c}", c) for c in readable]


class LanguagePicker(Select[str]):
    """The answer language; 'auto' answers in the question's language."""

    def __init__(self, language: str | None) -> None:
        options = [("Lang: auto", AUTO)] + [(f"Lang: {code} {name}", code) for code, name in LANGUAGE_NAMES.items()]
        value = language if language in LANGUAGE_NAMES else AUTO
        super().__init__(options, value=value, allow_blank=False, compact=True, id="language")


class StatusLabel(Static):
    """Where the answers come from, and whether one is being written."""
