"""Runs the configured chat generator and falls back to the extractive answer when it fails or times out."""

import logging
from collections.abc import Callable
from typing import Any

from haystack import Document, component
from haystack.dataclasses import ChatMessage, StreamingChunk

from assist.components.extractive import extract

logger = logging.getLogger(__name__)


@component
class GuardedAnswerGenerator:
    """Writes the answer with an LLM (OpenAI-compatible endpoint or llama.cpp) or extractively.

    A generator that raises (endpoint down, timeout, bad response) never fails the question: the answer
    becomes the extractive one and `fallback` says so.
    """

    def __init__(self, *, chat_generator: Any | None = None, name: str = "extractive"):
        self.chat_generator = chat_generator
        self.name = name

    def warm_up(self) -> None:
        """Load the LLM if it is in-process."""
        if self.chat_generator is not None and hasattr(self.chat_generator, "warm_up"):
            self.chat_generator.warm_up()

    @component.output_types(replies=list[str], generator=str, fallback=bool, error=str)
    def run(
        self,
        messages: list[ChatMessage],
        question: str,
        documents: list[Document],
        language: str = "sv",
        context: str = "",
        streaming_callback: Callable[[StreamingChunk], None] | None = None,
    ) -> dict[str, Any]:
        """Generate one reply; on any generator error answer extractively and mark it."""
        if self.chat_generator is None:
            text = extract(question, documents, language, context=context)
            if streaming_callback is not None and text:
                streaming_callback(StreamingChunk(content=text))
            return {"replies": [text], "generator": "extractive", "fallback": False, "error": ""}
        try:
            result = self.chat_generator.run(messages=messages, streaming_callback=streaming_callback)
            text = result["replies"][0].text or ""
        except Exception as exc:  # noqa: BLE001 - any generator failure degrades to the extractive answer
            logger.warning("Generator %s failed (%s); answering extractively", self.name, type(exc).__name__)
            text = extract(question, documents, language, context=context)
            return {"replies": [text], "generator": "extractive", "fallback": True, "error": type(exc).__name__}
        return {"replies": [text], "generator": self.name, "fallback": False, "error": ""}
