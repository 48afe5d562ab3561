"""Runs the configured chat generator and falls back to the extractive answer when it fails or times out.

With an LLM, one short call first asks whether the passages answer the question at all: a model asked to answer
from insufficient sources usually answers anyway, so the check is kept apart from generation.
"""

import logging
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from typing import Any

from haystack import Document, component
from haystack.components.builders import ChatPromptBuilder
from haystack.dataclasses import ChatMessage, StreamingChunk
from jinja2 import Template

from assist.components.answer_builder import NOT_COVERED_MARK
from assist.components.extractive import extract
from assist.grounding import Assessment

ANSWERABILITY_MAX_TOKENS = 3


@lru_cache(maxsize=1)
def _answerability_template() -> Template:
    return Template((files("assist") / "prompts" / "answerability.jinja2").read_text(encoding="utf-8"))


def prompt_template() -> list[ChatMessage]:
    """System text first and fixed (so a vLLM prefix cache can reuse it), then sources and question."""
    prompts = files("assist") / "prompts"
    return [
        ChatMessage.from_system((prompts / "system.jinja2").read_text(encoding="utf-8")),
        ChatMessage.from_user((prompts / "user.jinja2").read_text(encoding="utf-8")),
    ]


def answerability_messages(question: str, documents: list[Document]) -> list[ChatMessage]:
    """The one short prompt that asks whether the passages answer the question (YES or NO)."""
    return [ChatMessage.from_user(_answerability_template().render(question=question, documents=documents))]


def says_no(reply: str) -> bool:
    """A NO verdict; anything else (YES, an empty or unclear reply) lets generation go ahead."""
    first = reply.strip().strip("*\"'.:").split()
    return bool(first) and first[0].strip(".,!:").upper() in {"NO", "NEJ"}

logger = logging.getLogger(__name__)


@component
class GuardedAnswerGenerator:
    """Writes the answer with an LLM (OpenAI-compatible endpoint or llama.cpp) or extractively.

    A generator that raises (endpoint down, timeout, bad response) never fails the question: the answer
    becomes the extractive one and `fallback` says so. The prompt (`prompt_template`) is built here, only when an
    LLM will read it: the extractive answer needs none.
    """

    def __init__(self, *, chat_generator: Any | None = None, name: str = "extractive", check_answerable: bool = True):
        self.chat_generator = chat_generator
        self.name = name
        self.check_answerable = check_answerable
        self._prompt_builder: ChatPromptBuilder | None = None

    def prompt(
        self, question: str, documents: list[Document], language_name: str, history: list[dict[str, str]]
    ) -> list[ChatMessage]:
        """The messages an LLM is sent: the fixed system text, then the passages, the earlier turns and the question."""
        if self._prompt_builder is None:
            self._prompt_builder = ChatPromptBuilder(template=prompt_template(), required_variables="*")
        built = self._prompt_builder.run(
            documents=documents, question=question, language_name=language_name, history=history
        )
        return built["prompt"]

    def warm_up(self) -> None:
        """Load the LLM if it is in-process."""
        if self.chat_generator is not None and hasattr(self.chat_generator, "warm_up"):
            self.chat_generator.warm_up()

    @component.output_types(replies=list[str], generator=str, fallback=bool, error=str)
    def run(
        self,
        question: str,
        documents: list[Document],
        language: str = "sv",
        context: str = "",
        streaming_callback: Callable[[StreamingChunk], None] | None = None,
        grounding: Assessment | None = None,
        language_name: str = "Swedish",
        history: list[dict[str, str]] | None = None,
        messages: list[ChatMessage] | None = None,
    ) -> dict[str, Any]:
        """Generate one reply; on any generator error answer extractively and mark it.

        `messages` replaces the prompt built from the passages, `language_name` and `history` (the earlier turns,
        already bounded and scrubbed).
        """
        keys = grounding.key_terms if grounding is not None else None
        units = grounding.unit_scores if grounding is not None else None
        if self.chat_generator is None:
            text = extract(question, documents, language, context=context, keys=keys, unit_scores=units)
            if streaming_callback is not None and text:
                streaming_callback(StreamingChunk(content=text))
            return {"replies": [text], "generator": "extractive", "fallback": False, "error": ""}
        try:
            if self.check_answerable and not self.answerable(question, documents):
                return {"replies": [NOT_COVERED_MARK], "generator": self.name, "fallback": False, "error": ""}
            if messages is None:
                messages = self.prompt(question, documents, language_name, history or [])
            result = self.chat_generator.run(messages=messages, streaming_callback=streaming_callback)
            text = result["replies"][0].text or ""
        except Exception as exc:  # noqa: BLE001 - any generator failure degrades to the extractive answer
            logger.warning("Generator %s failed (%s); answering extractively", self.name, type(exc).__name__)
            text = extract(question, documents, language, context=context, keys=keys, unit_scores=units)
            return {"replies": [text], "generator": "extractive", "fallback": True, "error": type(exc).__name__}
        return {"replies": [text], "generator": self.name, "fallback": False, "error": ""}

    def answerable(self, question: str, documents: list[Document]) -> bool:
        """One short call: do the passages answer the question? (An error propagates: the caller falls back.)"""
        result = self.chat_generator.run(
            messages=answerability_messages(question, documents),
            generation_kwargs={"max_tokens": ANSWERABILITY_MAX_TOKENS, "temperature": 0.0},
        )
        reply = result["replies"][0].text or ""
        verdict = not says_no(reply)
        logger.info("answerability check by %s: %r -> %s", self.name, reply[:20], "yes" if verdict else "no")
        return verdict
