"""The one answer pipeline every surface calls: embed → retrieve (role-scoped) → gate → prompt → generate → cite."""

import json
import logging
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from haystack import Pipeline
from haystack.components.builders import ChatPromptBuilder
from haystack.dataclasses import ChatMessage, StreamingChunk

from assist.backends import embedder_name, make_chat_generator, make_document_store, make_text_embedder
from assist.components.answer_builder import CitedAnswerBuilder, RefusalBuilder
from assist.components.answer_generator import GuardedAnswerGenerator
from assist.components.bm25_embedder import Bm25TextSparseEmbedder
from assist.components.edge_store import EdgeDocumentStore
from assist.components.relevance_gate import RelevanceGate
from assist.components.retriever import ScopedRetriever
from assist.errors import ConfigError, InvalidQuestionError, StoreNotFoundError
from assist.languages import LANGUAGE_NAMES
from assist.roles import collections_for
from assist.schemas import Answer
from assist.settings import Settings

logger = logging.getLogger(__name__)

STORE_INFO_FILE = "assist_store.json"


def prompt_template() -> list[ChatMessage]:
    """System text first and fixed (so a vLLM prefix cache can reuse it), then sources and question."""
    prompts = files("assist") / "prompts"
    return [
        ChatMessage.from_system((prompts / "system.jinja2").read_text(encoding="utf-8")),
        ChatMessage.from_user((prompts / "user.jinja2").read_text(encoding="utf-8")),
    ]


def build_answer_pipeline(settings: Settings, document_store: Any) -> Pipeline:
    """Wire the answer pipeline; sockets are connected explicitly."""
    chat_generator, name = make_chat_generator(settings)
    p = Pipeline()
    p.add_component("text_embedder", make_text_embedder(settings))
    p.add_component("sparse_embedder", Bm25TextSparseEmbedder())
    p.add_component(
        "retriever",
        ScopedRetriever(document_store=document_store, mode=settings.retrieval.mode, top_k=settings.retrieval.top_k),
    )
    p.add_component("gate", RelevanceGate(min_score=settings.retrieval.min_score))
    p.add_component("prompt_builder", ChatPromptBuilder(template=prompt_template(), required_variables="*"))
    p.add_component("generator", GuardedAnswerGenerator(chat_generator=chat_generator, name=name))
    p.add_component("answer_builder", CitedAnswerBuilder())
    p.add_component("refusal", RefusalBuilder())

    p.connect("text_embedder.embedding", "retriever.query_embedding")
    p.connect("sparse_embedder.sparse_embedding", "retriever.query_sparse_embedding")
    p.connect("retriever.documents", "gate.documents")
    p.connect("gate.passed", "prompt_builder.documents")
    p.connect("gate.passed", "generator.documents")
    p.connect("gate.passed", "answer_builder.documents")
    p.connect("gate.rejected", "refusal.rejected")
    p.connect("prompt_builder.prompt", "generator.messages")
    p.connect("generator.replies", "answer_builder.replies")
    p.connect("generator.generator", "answer_builder.generator")
    p.connect("generator.fallback", "answer_builder.fallback")
    return p


class Assistant:
    """The assist API: `ask()` answers a question for a role with cited sources.

    Usage:
        assistant = Assistant(Settings())
        answer = assistant.ask("Vad gör jag om brukaren har ramlat?", role="home-care")
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.document_store = make_document_store(settings, create=False)
        self.pipeline = build_answer_pipeline(settings, self.document_store)
        self._warm = False

    def warm_up(self) -> None:
        """Check the store exists and matches the embedder, and load the models."""
        if self._warm:
            return
        check_store(self.settings, self.document_store)
        self.pipeline.warm_up()
        self._warm = True

    def ask(
        self,
        question: str,
        role: str,
        *,
        language: str | None = None,
        streaming_callback: Callable[[StreamingChunk], None] | None = None,
    ) -> Answer:
        """Answer `question` for `role` from the collections that role may read."""
        started = time.perf_counter()
        collections = collections_for(role)
        question = validate_question(question, self.settings.retrieval.max_question_chars)
        self.warm_up()
        lang = language or "sv"
        data = {
            "text_embedder": {"text": question},
            "sparse_embedder": {"text": question},
            "retriever": {"collections": collections},
            "prompt_builder": {"question": question, "language_name": LANGUAGE_NAMES.get(lang, lang)},
            "generator": {"question": question, "language": lang, "streaming_callback": streaming_callback},
            "answer_builder": {"question": question, "language": lang},
            "refusal": {"language": lang},
        }
        result = self.pipeline.run(data)
        answer: Answer = (result.get("answer_builder") or result["refusal"])["answer"]
        answer.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return answer

    def close(self) -> None:
        """Release the store (the embedded shard is one process's at a time)."""
        if isinstance(self.document_store, EdgeDocumentStore):
            self.document_store.close()


def validate_question(question: object, max_chars: int) -> str:
    """A clean question string, or InvalidQuestionError saying what is wrong."""
    if not isinstance(question, str):
        msg = "The question must be text."
        raise InvalidQuestionError(msg)
    if "\x00" in question or sum(not (c.isprintable() or c.isspace()) for c in question) > len(question) // 10:
        msg = "The question contains binary data: send plain text."
        raise InvalidQuestionError(msg)
    q = " ".join(question.split())
    if not q:
        msg = "The question is empty: type what you want to know."
        raise InvalidQuestionError(msg)
    if len(q) > max_chars:
        msg = f"The question is {len(q)} characters long: keep it under {max_chars}."
        raise InvalidQuestionError(msg)
    return q


def write_store_info(settings: Settings) -> None:
    """Record which embedding model built the embedded store."""
    if settings.qdrant.url:
        return
    path = settings.store_path / STORE_INFO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"embedder": embedder_name(settings)}), encoding="utf-8")


def check_store(settings: Settings, store: Any) -> None:
    """Fail clearly when the store is missing or was built with another embedding model."""
    if not isinstance(store, EdgeDocumentStore):
        return
    if not store.exists():
        msg = f"No document store at {settings.store_path}: run `assist ingest knowledge` first."
        raise StoreNotFoundError(msg)
    info_path = settings.store_path / STORE_INFO_FILE
    if info_path.exists():
        built_with = json.loads(info_path.read_text(encoding="utf-8")).get("embedder")
        if built_with != embedder_name(settings):
            msg = (
                f"The store at {settings.store_path} was built with {built_with}, but the embedder is now "
                f"{embedder_name(settings)}: re-run `assist ingest` into a new --store, or switch the embedder back."
            )
            raise ConfigError(msg)
