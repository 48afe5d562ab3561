"""Roles and the collections each may read, from the roles file the city edits (TOML; `ASSIST_ROLES_FILE`).

The file maps each role to the collections it may read (`"*"` = every collection the store holds), names the
content owners (`owns`) and the administrators (`admin = true`), and says how a sign-in's claims map to roles.
The packaged `assist/roles.toml` is the default; a city points `ASSIST_ROLES_FILE` at its own.
"""

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from assist.errors import ConfigError, UnknownRoleError

#: In `collections`, every collection the store holds.
ALL = "*"
#: Collection and role names: a letter or digit, then letters, digits, `_` or `-` (no spaces, dots or slashes), so
#: that a name is safe as a folder, a payload value, a metrics label and a URL part.
NAME = re.compile(r"[^\W_][\w-]{0,63}")
ENV_VAR = "ASSIST_ROLES_FILE"


def is_safe_name(name: str) -> bool:
    """True when `name` can be a collection or role name."""
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def _check_names(kind: str, names: Iterable[str]) -> None:
    bad = [n for n in names if not is_safe_name(n)]
    if bad:
        msg = f"{kind} {', '.join(map(repr, bad))} not allowed: use letters, digits, '_' and '-' (at most 64)"
        raise ValueError(msg)


class Role(BaseModel):
    """One role: the collections it may read, the ones it owns, and whether it administers the service."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    collections: list[str] = Field(min_length=1, description='Collections the role may read; ["*"] = all.')
    owns: list[str] = Field(default=[], description="Collections whose content this role manages (a subset).")
    admin: bool = Field(default=False, description="Administers the service: metrics, feedback export, details.")

    @field_validator("collections")
    @classmethod
    def _collections(cls, value: list[str]) -> list[str]:
        if ALL in value:
            if len(value) > 1:
                msg = f'"*" already means every collection: write collections = ["*"] alone, not {value}'
                raise ValueError(msg)
            return value
        _check_names("collection names", value)
        if len(set(value)) != len(value):
            msg = f"a collection is named twice in {value}"
            raise ValueError(msg)
        return value

    @field_validator("owns")
    @classmethod
    def _owns(cls, value: list[str]) -> list[str]:
        if ALL in value:
            msg = 'owns names collections one by one ("*" is not allowed there; admin = true manages everything)'
            raise ValueError(msg)
        _check_names("collection names", value)
        return value

    @model_validator(mode="after")
    def _owns_what_it_reads(self) -> "Role":
        if ALL not in self.collections:
            unread = [c for c in self.owns if c not in self.collections]
            if unread:
                msg = f"owns {unread} but may not read them: add them to collections, or remove them from owns"
                raise ValueError(msg)
        return self

    @property
    def reads_all(self) -> bool:
        """True for a role whose collections are `["*"]`."""
        return ALL in self.collections


class ClaimMapping(BaseModel):
    """How a sign-in's ID token decides the role: the claim to read and which of its values gives which role.

    `claim` may be a dotted path into nested claims (e.g. `realm_access.roles`). The claim's value is a string or a
    list of strings; the first entry of `map` (in file order) that the user has decides the role. A user with no
    mapped value has no role and no access: there is no default role.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    claim: str = Field(default="groups", min_length=1, description="The ID-token claim carrying groups or roles.")
    map: dict[str, str] = Field(default={}, description="Claim value → role.")

    def role_for(self, claims: Mapping[str, Any]) -> str | None:
        """The role these ID-token claims map to, or None when none of their values is mapped."""
        value: Any = claims
        for part in self.claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            held = {value}
        elif isinstance(value, list | tuple):
            held = {v for v in value if isinstance(v, str)}
        else:
            held = set()
        return next((role for key, role in self.map.items() if key in held), None)


class Roles(BaseModel):
    """Every role of the deployment, as read from the roles file.

    Usage:
        roles = load_roles(Path("roles.toml"))
        roles.collections_for("home-care")               # ["home_care", "general"]
        roles.collections_for("admin", ["a", "b"])       # "*": every collection the store holds
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    roles: dict[str, Role] = Field(min_length=1)
    claims: ClaimMapping = ClaimMapping()
    _source: str = PrivateAttr(default="the roles file")

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: dict[str, Role]) -> dict[str, Role]:
        _check_names("role names", value)
        return value

    @model_validator(mode="after")
    def _claims_name_known_roles(self) -> "Roles":
        unknown = sorted({r for r in self.claims.map.values() if r not in self.roles})
        if unknown:
            msg = (
                f"[claims.map] maps to unknown role(s) {', '.join(map(repr, unknown))}: "
                f"use one of {', '.join(self.roles)}, or add a [roles.{unknown[0]}] table"
            )
            raise ValueError(msg)
        return self

    @property
    def source(self) -> str:
        """Where these roles were read from (for error messages)."""
        return self._source

    @property
    def names(self) -> list[str]:
        """Every role, in file order."""
        return list(self.roles)

    def role(self, name: str) -> Role:
        """The role called `name`; UnknownRoleError names the configured roles."""
        try:
            return self.roles[name]
        except (KeyError, TypeError):
            allowed = ", ".join(self.roles)
            raise UnknownRoleError(f"Unknown role {name!r}: use one of {allowed}.") from None

    def named_collections(self) -> list[str]:
        """Every collection some role names (not "*"), in file order."""
        return list(dict.fromkeys(c for r in self.roles.values() for c in r.collections if c != ALL))

    def known_collections(self, present: Iterable[str] = ()) -> list[str]:
        """The collections there are: those the roles name, then any others the store holds."""
        named = self.named_collections()
        return named + sorted(set(present) - set(named))

    def collections_for(self, role: str, present: Iterable[str] = ()) -> list[str]:
        """The collections `role` may read; `"*"` means every known collection (`present`: those the store holds)."""
        r = self.role(role)
        return self.known_collections(present) if r.reads_all else list(r.collections)

    def is_admin(self, role: str) -> bool:
        """True when `role` is configured and has `admin = true`."""
        r = self.roles.get(role)
        return bool(r and r.admin)

    def owners_of(self, collection: str) -> list[str]:
        """The roles that own `collection`."""
        return [name for name, r in self.roles.items() if collection in r.owns]

    def check_collections(self, present: Iterable[str]) -> dict[str, list[str]]:
        """The collections each role may read that the store does not hold (`present`: those it holds), for the
        roles missing some: {role: [collection, ...]}. A role reading "*" reads whatever there is and misses none.

        Such a role cannot be answered (its questions would silently skip what it should read), while every other
        role can: the caller warns, and `missing_message` is the error for that role's questions.
        """
        held = set(present)
        missing = {name: [c for c in r.collections if c != ALL and c not in held] for name, r in self.roles.items()}
        return {name: collections for name, collections in missing.items() if collections}

    def missing_message(self, missing: Mapping[str, list[str]], present: Iterable[str], *, source: bool = True) -> str:
        """What `check_collections` found, in one message that says what to do; `source=False` leaves out the roles
        file's path (for an answer to a caller who is not an administrator).
        """
        held = sorted(set(present))
        problems = "; ".join(f"role {name!r} names {', '.join(map(repr, cs))}" for name, cs in missing.items())
        holds = f"it holds {', '.join(held)}" if held else "it holds no documents yet"
        text = (
            f"{problems}, but the store has no such collection ({holds}), so "
            f"{'that role' if len(missing) == 1 else 'those roles'} cannot be answered until it is there. "
            "Ingest a folder of that name (each first-level folder is a collection), or fix the role's collections."
        )
        return f"The roles file {self._source}: {text}" if source else text[0].upper() + text[1:]


def default_roles_file() -> Path:
    """The packaged roles file: the four roles of the shipped knowledge."""
    return Path(str(files("assist") / "roles.toml"))


def _where(loc: tuple[int | str, ...]) -> str:
    """A validation error's location as the TOML a person edits: `[roles.home-care] owns`."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "roles":
        table = f"[roles.{parts[1]}]"
        return f"{table} {'.'.join(parts[2:])}" if len(parts) > 2 else table
    if parts and parts[0] == "claims":
        if len(parts) >= 2 and parts[1] == "map":
            return f"[claims.map] {'.'.join(parts[2:])}".rstrip()
        return f"[claims] {'.'.join(parts[1:])}".rstrip()
    return ".".join(parts) or "the file"


_KEYS = {"": "roles, claims", "roles": "collections, owns, admin", "claims": "claim, map"}


def _explain(err: Any) -> str:
    loc = tuple(err["loc"])
    where = _where(loc)
    if err["type"] == "extra_forbidden":
        allowed = _KEYS["roles" if len(loc) == 3 and loc[0] == "roles" else str(loc[0]) if len(loc) == 2 else ""]
        return f"{where}: unknown key (allowed: {allowed})"
    if err["type"] == "missing":
        if loc == ("roles",):
            return "no roles: add at least one [roles.NAME] table with collections = [...]"
        return f"{where}: missing (every role needs collections = [...])"
    text = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {text}" if loc else text


def parse_roles(text: str, source: str = "the roles file") -> Roles:
    """Roles from the TOML `text`; ConfigError names `source`, the table and what to fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"The roles file {source} is not valid TOML ({exc}): fix it, or unset {ENV_VAR} for the packaged roles."
        raise ConfigError(msg) from None
    try:
        roles = Roles.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_explain(e) for e in exc.errors())
        msg = f"The roles file {source} is not valid: {problems}."
        raise ConfigError(msg) from None
    roles._source = source
    return roles


@lru_cache(maxsize=16)
def _load(path: str) -> Roles:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"The roles file {path} does not exist: set {ENV_VAR} to an existing file, or unset it."
        raise ConfigError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"The roles file {path} cannot be read ({exc}): check its permissions and that it is UTF-8 text."
        raise ConfigError(msg) from None
    return parse_roles(text, str(p))


def load_roles(path: Path | str | None = None) -> Roles:
    """The roles in `path` (default the packaged file), read and checked once per process."""
    return _load(str(Path(path).expanduser().resolve()) if path else str(default_roles_file()))


def collections_for(role: str, roles: Roles | None = None, present: Iterable[str] = ()) -> list[str]:
    """The collections `role` may read; raises UnknownRoleError naming the configured roles.

    `roles` defaults to the configured roles file (`ASSIST_ROLES_FILE`); pass the settings' roles where they are at
    hand. `present` is what the store holds, for a role that reads `"*"`.
    """
    return (roles or configured_roles()).collections_for(role, present)


def configured_roles() -> Roles:
    """The roles of the process's settings (`ASSIST_ROLES_FILE`, else the packaged file)."""
    from assist.settings import Settings  # noqa: PLC0415 - settings import this module's loader

    return Settings().roles
