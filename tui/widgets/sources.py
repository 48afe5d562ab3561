"""The sources pane: the current answer's citations, and the quoted passage of the one selected."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from assist.schemas import Citation
from assist.states import readable_quote


def where(citation: Citation) -> str:
    """'page 3 · Section > Subsection', or what of it is known."""
    parts = []
    if citation.page:
        parts.append(f"page {citation.page}")
    if citation.section:
        parts.append(citation.section)
    return " · ".join(parts)


def by_routine(citations: list[Citation]) -> list[list[Citation]]:
    """The citations grouped by the routine they quote, in the order each routine is first cited."""
    routines: dict[tuple[str | None, str], list[Citation]] = {}
    for c in citations:
        routines.setdefault((c.collection, c.doc_id), []).append(c)
    return list(routines.values())


def numbers(passages: list[Citation]) -> str:
    """'[1]', or '[1, 3]' for a routine cited twice."""
    return f"[{', '.join(str(c.n) for c in passages)}]"


class SourceList(OptionList):
    """One line per cited routine: its citation numbers and its title (a routine cited twice is listed once)."""

    def show_citations(self, citations: list[Citation]) -> None:
        self.citations = list(citations)
        self.routines = by_routine(self.citations)
        self.set_options(
            Option(Content.assemble((f"{numbers(r)} ", "bold"), r[0].title), id=f"cite-{r[0].n}") for r in self.routines
        )
        self.border_subtitle = f"{len(self.routines)}" if self.routines else ""
        if self.routines:
            self.highlighted = 0

    def passages_at(self, index: int | None) -> list[Citation]:
        """The cited passages of the routine on line `index` (none for no line)."""
        routines: list[list[Citation]] = getattr(self, "routines", [])
        if index is None or not 0 <= index < len(routines):
            return []
        return routines[index]


class PassageView(VerticalScroll):
    """The quoted passages of one routine with title, page, section and source file.

    With the class `-closest` the passage belongs to a closest routine and says so above the quote.
    """

    EMPTY = "Select a source to read the passage it quotes."
    CLOSEST = "Closest routine: it does not answer the question directly."

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(self.EMPTY, id="passage-text", markup=False)

    def show(self, passages: list[Citation]) -> None:
        text = self.query_one("#passage-text", Static)
        if not passages:
            text.update(self.EMPTY)
            return
        first = passages[0]
        lines: list[Content | tuple[str, str] | str] = []
        if self.has_class("-closest"):
            lines += [(self.CLOSEST, "bold"), "\n\n"]
        lines += [(f"{numbers(passages)} {first.title}", "bold"), "\n"]
        if len(passages) == 1 and where(first):
            lines += [(where(first), "italic"), "\n"]
        lines += [(first.source, "dim")]
        for c in passages:
            lines.append("\n\n")
            if len(passages) > 1:
                lines += (
                    [(f"[{c.n}] ", "bold"), (where(c), "italic"), "\n"] if where(c) else [(f"[{c.n}]", "bold"), "\n"]
                )
            # Table rows come one cell per line: a row keeps its column headers even in a narrow pane.
            lines.append(f"\u201c{readable_quote(c.quote)}\u201d")
        text.update(Content.assemble(*lines))
        self.scroll_home(animate=False)
