"""Request and response bodies of the HTTP API (pydantic at the boundary)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assist.schemas import Answer

LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


class HistoryMessage(BaseModel):
    """One earlier turn of the conversation, for follow-up questions."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=4000)


class AskRequest(BaseModel):
    """A question; the role comes from the caller's token, never from the body."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question, in any language.", examples=["Vad gör jag om brukaren ramlat?"])
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, description="Answer language (ISO 639-1).")
    plain: bool = Field(default=False, description="Plain language, for passing on to a parent.")
    history: list[HistoryMessage] = Field(default_factory=list, max_length=20)


class AskResponse(Answer):
    """The Answer (`status`: answered, closest or refused; `uncovered`), with the id for feedback and the audit log."""

    request_id: str


class FeedbackRequest(BaseModel):
    """Thumbs up or down on one answer."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    rating: Literal["up", "down"]
    reason: str = Field(default="", max_length=500)


class FeedbackResponse(BaseModel):
    """The stored rating's id."""

    feedback_id: str


class ChatMessageIn(BaseModel):
    """An OpenAI chat message; content may be a string or a list of text parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatCompletionRequest(BaseModel):
    """The part of OpenAI's chat completion request the assistant uses; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = "frontline-assist"
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=50)
    stream: bool = False
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, description="Answer language (extension).")
