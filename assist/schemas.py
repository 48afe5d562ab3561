"""The Answer contract every surface returns (CLI JSON, HTTP, TUI)."""

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """One numbered source the answer relies on, down to page and quoted passage."""

    n: int = Field(description="The number used as [n] in the answer text.")
    doc_id: str
    title: str
    source: str = Field(description="Path of the source file, relative to the ingested folder.")
    page: int | None = Field(default=None, description="1-based page number for paged formats.")
    section: str = Field(default="", description="Heading path of the passage, e.g. 'Arbetsgång > Steg 2'.")
    quote: str = Field(description="The passage the citation points at.")
    collection: str = ""


class Answer(BaseModel):
    """An answer with its citations; `refused` is true when the routines do not cover the question."""

    answer: str
    citations: list[Citation] = Field(default_factory=list)
    refused: bool = False
    language: str = "sv"
    generator: str = Field(default="", description="Which generator produced the text.")
    fallback: bool = Field(
        default=False, description="True when the configured generator failed and the answer is extractive."
    )
    support: float | None = Field(
        default=None, description="Share of answer sentences supported by the passage they cite (0..1)."
    )
    scrubbed: bool = Field(default=False, description="True when personal data was replaced in the question.")
    notices: list[str] = Field(
        default_factory=list, description="Things the user should know (fallback, scrubbed data)."
    )
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")
