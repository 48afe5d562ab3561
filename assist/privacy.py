"""Replaces personal data in a question before anything is logged or sent to a model.

Swedish personal identity numbers (checksum and date checked, coordination numbers too), phone numbers
(`phonenumbers`, region SE), e-mail and street addresses, and names where a cue or shape gives them away.
Presidio's Swedish recogniser was the first choice, but Presidio needs spaCy plus a language model fetched at
install or run time, which city networks and these machines cannot reach; the checks here follow its rules.
"""

import re
from dataclasses import dataclass, field
from datetime import date

import phonenumbers

PNR = re.compile(r"(?<![\d-])(\d{2})?(\d{2})(\d{2})(\d{2})([-+ ]?)(\d{3})(\d)(?![\d-])")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
STREET = re.compile(
    r"\b[A-ZÅÄÖ][a-zåäöé]+(?:gatan|vägen|gränd|gränden|torget|torg|backe|backen|stigen|allén|allé|plan|leden|väg|gata)"
    r"\s+\d+\s?[A-Za-z]?\b"
)
NAME_CUE = re.compile(
    r"\b(?:brukaren|brukare|kunden|patienten|klienten|barnet|eleven|pappa|mamma|vårdnadshavaren|låntagaren|heter|"
    r"named|client|patient|resident|herr|fru)\s+((?:[A-ZÅÄÖ][a-zåäöéü]+)(?:\s+[A-ZÅÄÖ][a-zåäöéü]+)?)"
)
# A first name followed by a surname with a common Nordic, Finnish or Slavic ending.
FULL_NAME = re.compile(
    r"(?<![.!?]\s)(?<!^)\b([A-ZÅÄÖ][a-zåäöéü]{1,20})\s+"
    r"([A-ZÅÄÖ][a-zåäöéü]{1,20}(?:son|sson|berg|ström|lund|qvist|kvist|gren|ssen|sen|ić|ski|ska|nen|inen))\b"
)

PLACEHOLDERS = {
    "personnummer": "[PERSONNUMMER]",
    "phone": "[TELEFON]",
    "email": "[E-POST]",
    "address": "[ADRESS]",
    "name": "[NAMN]",
}


def luhn_ok(digits: str) -> bool:
    """Luhn check over the 10 digits YYMMDDNNNC."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _valid_pnr(m: re.Match[str]) -> bool:
    century, yy, mm, dd, _sep, nnn, check = m.groups()
    day = int(dd)
    if day > 60:  # coordination number: day + 60
        day -= 60
    year = int((century or "19") + yy)
    try:
        date(year, int(mm), day)
    except ValueError:
        return False
    return luhn_ok(yy + mm + dd + nnn + check)


@dataclass
class ScrubResult:
    """The scrubbed text and what was replaced (kinds only, never the values)."""

    text: str
    found: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.found)


def scrub(text: str) -> ScrubResult:
    """Replace personal data in `text` with placeholders."""
    found: dict[str, int] = {}

    def sub(pattern: re.Pattern[str], kind: str, s: str, check: object = None, group: int = 0) -> str:
        def repl(m: re.Match[str]) -> str:
            if check is not None and not check(m):  # type: ignore[operator]
                return m.group(0)
            found[kind] = found.get(kind, 0) + 1
            whole = m.group(0)
            if group:
                return whole.replace(m.group(group), PLACEHOLDERS[kind])
            return PLACEHOLDERS[kind]

        return pattern.sub(repl, s)

    out = sub(PNR, "personnummer", text, check=_valid_pnr)
    out = sub(EMAIL, "email", out)
    spans = []
    for m in phonenumbers.PhoneNumberMatcher(out, "SE", leniency=phonenumbers.Leniency.POSSIBLE):
        digits = re.sub(r"\D", "", m.raw_string)
        if len(digits) >= 7 and not ISO_DATE.fullmatch(m.raw_string.strip()):
            spans.append((m.start, m.end))
    for start, end in reversed(spans):
        out = out[:start] + PLACEHOLDERS["phone"] + out[end:]
    if spans:
        found["phone"] = len(spans)
    out = sub(STREET, "address", out)
    out = sub(NAME_CUE, "name", out, group=1)
    out = sub(FULL_NAME, "name", out)
    return ScrubResult(out, found)
