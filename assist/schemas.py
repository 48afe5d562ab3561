"""The Answer contract every surface returns (CLI JSON, HTTP, TUI)."""

from typing import Literal

from pydantic import BaseModel, Field, model_validator

#: answered: the routines answer the question. closest: they do not answer it directly; the citations are the
#: nearest routines, never to be shown as an answer. refused: no routine is relevant; the text says who to ask.
AnswerStatus = Literal["answered", "closest", "refused"]


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
    """An answer with its citations, and whether the routines answer the question (`status`).

    `refused` is kept for existing clients: it is true whenever `status` is not `answered`.
    """

    answer: str
    citations: list[Citation] = Field(default_factory=list)
    status: AnswerStatus = Field(
        default="answered",
        description="answered | closest (no routine answers this directly; the nearest are cited) | refused.",
    )
    refused: bool = Field(default=False, description="True whenever status is not 'answered'.")
    uncovered: list[str] = Field(
        default_factory=list, description="With status 'closest': the question's key terms no routine mentions."
    )
    language: str = "sv"
    generator: str = Field(default="", description="Which generator produced the text.")
    fallback: bool = Field(
        default=False, description="True when the configured generator failed and the answer is extractive."
    )
    support: float | None = Field(
        default=None, description="Share of answer sentences supported by the passage they cite (0..1)."
    )
    answerability: float | None = Field(
        default=None, exclude=True,
        description="The grounding's probability that the routines answer the question (None: not assessed). Not "
        "in replies: the owners' gaps read it to record answers given with low confidence.",
    )
    scrubbed: bool = Field(default=False, description="True when personal data was replaced in the question.")
    notices: list[str] = Field(
        default_factory=list, description="Things the user should know (fallback, scrubbed data)."
    )
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")

    @model_validator(mode="after")
    def _status_and_refused_agree(self) -> "Answer":
        # Older code paths say refused=True only; a status other than answered always means refused.
        if self.refused and self.status == "answered":
            self.status = "refused"
        self.refused = self.status != "answered"
        return self
