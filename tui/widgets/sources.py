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


class SourceList(OptionList):
    """One line per citation: its number and the document title."""

    def show_citations(self, citations: list[Citation]) -> None:
        self.citations = list(citations)
        self.set_options(Option(Content.assemble((f"[{c.n}] ", "bold"), c.title), id=f"cite-{c.n}") for c in citations)
        self.border_subtitle = f"{len(citations)}" if citations else ""
        if citations:
            self.highlighted = 0

    def citation_at(self, index: int | None) -> Citation | None:
        citations: list[Citation] = getattr(self, "citations", [])
        if index is None or not 0 <= index < len(citations):
            return None
        return citations[index]


class PassageView(VerticalScroll):
    """The quoted passage with title, page, section and source file.

    With the class `-closest` the passage belongs to a closest routine and says so above the quote.
    """

    EMPTY = "Select a source to read the passage it quotes."
    CLOSEST = "Closest routine: it does not answer the question directly."

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(self.EMPTY, id="passage-text", markup=False)

    def show(self, citation: Citation | None) -> None:
        text = self.query_one("#passage-text", Static)
        if citation is None:
            text.update(self.EMPTY)
            return
        lines: list[Content | tuple[str, str] | str] = []
        if self.has_class("-closest"):
            lines += [(self.CLOSEST, "bold"), "\n\n"]
        lines += [(f"[{citation.n}] {citation.title}", "bold"), "\n"]
        if where(citation):
            lines += [(where(citation), "italic"), "\n"]
        # Table rows come one cell per line: a row keeps its column headers even in a narrow pane.
        lines += [(citation.source, "dim"), "\n\n", f"\u201c{readable_quote(citation.quote)}\u201d"]
        text.update(Content.assemble(*lines))
        self.scroll_home(animate=False)
