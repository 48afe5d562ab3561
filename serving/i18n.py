"""The phone page's own words in each language: one gettext catalogue (.po, read with Babel) per language.

The .po files under `serving/locales/` are the source: they are read directly at start (no compiled .mo to keep in
step). The message ids are the English strings, so a string a catalogue lacks is shown in English, never blank.
"""

import re
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
#: The page speaks Swedish unless the browser or the person asks for another language it has a catalogue for.
DEFAULT_LANGUAGE = "sv"
#: Written right to left: the page is mirrored for these.
RTL_LANGUAGES = frozenset({"ar", "fa"})
_TAG = re.compile(r"^[a-z]{2,3}$")


@lru_cache(maxsize=1)
def catalogues() -> dict[str, dict[str, str]]:
    """Each language's translations, {English message: translation}; English itself maps every message to itself."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES_DIR.glob("*.po")):
        with path.open("rb") as fh:
            catalogue = read_po(fh, locale=path.stem)
        out[path.stem] = {
            str(m.id): str(m.string) for m in catalogue if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
        }
    out.setdefault("en", {})
    return out


def languages() -> list[tuple[str, str]]:
    """The page's languages as (code, name in that language), Swedish first, then by code."""
    codes = sorted(catalogues(), key=lambda c: (c != DEFAULT_LANGUAGE, c))
    return [(code, _own_name(code)) for code in codes]


def _own_name(code: str) -> str:
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code
    return name[:1].upper() + name[1:]


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """The page's language: `requested` (the page's switch, `?lang=`) when there is a catalogue for it, else the
    best match of the browser's Accept-Language, else Swedish.
    """
    have = catalogues()
    if requested and requested.lower() in have:
        return requested.lower()
    for tag in _preferences(accept_language or ""):
        if tag in have:
            return tag
    return DEFAULT_LANGUAGE


def _preferences(header: str) -> list[str]:
    """Accept-Language's primary language tags, most preferred first ("sv-SE,en;q=0.8" -> ["sv", "en"])."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if not _TAG.match(primary):
            continue
        q = 1.0
        for p in params.split(";"):
            key, _, value = p.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, primary))
    return [tag for _, _, tag in sorted(ranked)]


def gettext(language: str, message: str) -> str:
    """`message` (English) in `language`; the English text when the catalogue has no translation for it."""
    return catalogues().get(language, {}).get(message) or message


def direction(language: str) -> str:
    """"rtl" or "ltr"."""
    return "rtl" if language in RTL_LANGUAGES else "ltr"
