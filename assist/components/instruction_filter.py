"""Takes sentences that read as instructions to the assistant out of the passages before an LLM reads them."""

from dataclasses import replace

from haystack import Document, component

from assist.instructions import has_flagged, without_flagged


@component
class InstructionFilter:
    """Passes the passages on with their instruction-like sentences removed; order, ids and metadata stay.

    The passages keep their numbers, so the model's [n] citations still point at the passages CitedAnswerBuilder
    checks; that builder reads the originals and tells the user when a cited routine held such text.
    """

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Remove instruction-like sentences from each passage."""
        out = [
            replace(d, content=without_flagged(d.content or "")) if has_flagged(d.content or "", d.meta.get("flagged"))
            else d
            for d in documents
        ]
        return {"documents": out}
