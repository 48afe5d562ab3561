"""How every text surface words an answer's state, and table rows in quotes made readable as plain text.

The phone page keeps the same phrases in its script; the CLI, the terminal client and the OpenAI-compatible route
use these, so that a `closest` answer reads the same everywhere and never as an answer.
"""

import re

from assist.languages import phrase
from assist.schemas import Answer

NO_DIRECT_ANSWER = {
    "sv": "Rutinerna svarar inte direkt på detta.",
    "en": "The routines do not answer this directly.",
}

NOT_MENTIONED = {
    "sv": "Ingen rutin nämner: {terms}.",
    "en": "No routine mentions: {terms}.",
}

CLOSEST_ROUTINES = {
    "sv": "Närmaste rutiner",
    "en": "Closest routines",
}

_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


def no_direct_answer(answer: Answer) -> str:
    """'The routines do not answer this directly.' in the answer's language (English when there is none)."""
    return phrase(NO_DIRECT_ANSWER, answer.language)


def not_mentioned(answer: Answer) -> str:
    """'No routine mentions: a, b.' for a closest answer's uncovered terms; empty when there are none."""
    if not answer.uncovered:
        return ""
    return phrase(NOT_MENTIONED, answer.language).format(terms=", ".join(answer.uncovered))


def closest_heading(answer: Answer) -> str:
    """'Closest routines' in the answer's language."""
    return phrase(CLOSEST_ROUTINES, answer.language)


def closest_preamble(answer: Answer) -> list[str]:
    """The lines that open a closest answer on a text surface: the plain statement, then the uncovered terms."""
    lines = [no_direct_answer(answer)]
    if answer.uncovered:
        lines.append(not_mentioned(answer))
    return lines


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def readable_quote(quote: str) -> str:
    """The quote with table rows laid out one cell per line, so that a narrow pane does not wrap them into a jumble.

    A row quoted with its headers ("Böcker | Lånetid: 28 dagar") and a Markdown table ("| Medietyp | Lånetid |",
    a separator line, then rows) both become the row's first cell followed by its other cells indented, a header
    in front of each cell where the table has one. Other lines are kept as they are.
    """
    lines = quote.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "|" not in line:
            out.append(line)
            i += 1
            continue
        block = []
        while i < len(lines) and "|" in lines[i]:
            block.append(lines[i])
            i += 1
        headers: list[str] = []
        if len(block) > 1 and _SEPARATOR.match(block[1].strip()):
            headers, block = _cells(block[0]), block[2:]
        for row in block:
            if _SEPARATOR.match(row.strip()):
                continue
            cells = _cells(row)
            out.append(cells[0])
            for k, cell in enumerate(cells[1:], start=1):
                named = k < len(headers) and headers[k] and not cell.startswith(headers[k])
                label = f"{headers[k]}: " if named else ""
                out.append(f"  {label}{cell}")
    return "\n".join(out)
