"""Roles and the collections each may read: a role reads its own collection plus `general`."""

from assist.errors import UnknownRoleError

COLLECTIONS: tuple[str, ...] = ("home_care", "preschool", "library", "general")

ROLE_COLLECTIONS: dict[str, tuple[str, ...]] = {
    "home-care": ("home_care", "general"),
    "preschool": ("preschool", "general"),
    "library": ("library", "general"),
    "admin": COLLECTIONS,
}

ROLES: tuple[str, ...] = tuple(ROLE_COLLECTIONS)


def collections_for(role: str) -> list[str]:
    """The collections `role` may read; raises UnknownRoleError naming the allowed roles."""
    try:
        return list(ROLE_COLLECTIONS[role])
    except KeyError:
        allowed = ", ".join(ROLES)
        raise UnknownRoleError(f"Unknown role {role!r}: use one of {allowed}.") from None
