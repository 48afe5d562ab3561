"""The one answer pipeline every surface calls: scrub → detect language → embed → retrieve (role-scoped) → gate
→ prompt → generate → check citations.
"""

import json
import logging
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from haystack import Document, Pipeline
from haystack.components.builders import ChatPromptBuilder
from haystack.dataclasses import ChatMessage, StreamingChunk

from assist.backends import (
    embedder_name,
    make_chat_generator,
    make_document_embedder,
    make_document_store,
    make_text_embedder,
)
from assist.components.answer_builder import CitedAnswerBuilder, RefusalBuilder
from assist.components.answer_generator import GuardedAnswerGenerator
from assist.components.bm25_embedder import Bm25TextSparseEmbedder
from assist.components.contacts import ContactsLookup
from assist.components.edge_store import EdgeDocumentStore
from assist.components.relevance_gate import RelevanceGate
from assist.components.retriever import ScopedRetriever
from assist.errors import ConfigError, InvalidQuestionError, ScopeError, StoreNotFoundError
from assist.languages import LANGUAGE_NAMES, NO_TRANSLATION_NOTICE, SCRUBBED_NOTICE, detect_language, phrase
from assist.privacy import scrub
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
    r = settings.retrieval
    p = Pipeline()
    p.add_component("text_embedder", make_text_embedder(settings))
    p.add_component("sparse_embedder", Bm25TextSparseEmbedder())
    p.add_component(
        "retriever",
        ScopedRetriever(
            document_store=document_store,
            mode=r.mode,
            top_k=r.top_k,
            candidates=r.candidates,
            per_doc=r.per_doc,
            title_embedder=make_document_embedder(settings),
            title_weight=r.title_weight,
            title_weight_fused=r.title_weight_fused,
            by_language=r.by_language,
            language_rank=r.language_rank,
        ),
    )
    p.add_component(
        "gate", RelevanceGate(min_score=settings.retrieval.min_score, scope_margin=settings.retrieval.scope_margin)
    )
    p.add_component("prompt_builder", ChatPromptBuilder(template=prompt_template(), required_variables="*"))
    p.add_component("generator", GuardedAnswerGenerator(chat_generator=chat_generator, name=name))
    p.add_component("answer_builder", CitedAnswerBuilder())
    p.add_component("refusal", RefusalBuilder())
    p.add_component(
        "contacts", ContactsLookup(document_store=document_store, doc_id=settings.retrieval.contacts_doc_id)
    )

    p.connect("text_embedder.embedding", "retriever.query_embedding")
    p.connect("sparse_embedder.sparse_embedding", "retriever.query_sparse_embedding")
    p.connect("retriever.documents", "gate.documents")
    p.connect("retriever.outside_best", "gate.outside_best")
    p.connect("gate.passed", "prompt_builder.documents")
    p.connect("gate.passed", "generator.documents")
    p.connect("gate.passed", "answer_builder.documents")
    p.connect("gate.rejected", "refusal.rejected")
    p.connect("gate.rejected", "contacts.rejected")
    p.connect("text_embedder.embedding", "contacts.query_embedding")
    p.connect("contacts.documents", "refusal.contacts")
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
        history: list[dict[str, str]] | None = None,
        collections: list[str] | None = None,
        streaming_callback: Callable[[StreamingChunk], None] | None = None,
    ) -> Answer:
        """Answer `question` for `role` from the collections that role may read.

        `language` asks for the answer in another language (a plain-language answer to pass on to a parent);
        by default the answer is in the question's language. `history` holds the earlier turns of the
        conversation as {"role": "user"|"assistant", "content": ...}, for follow-up questions. `collections`
        narrows the search to some of the collections the role may read (never widens it).
        """
        return self.answer_with_sources(
            question,
            role,
            language=language,
            history=history,
            collections=collections,
            streaming_callback=streaming_callback,
        )[0]

    def answer_with_sources(
        self,
        question: str,
        role: str,
        *,
        language: str | None = None,
        history: list[dict[str, str]] | None = None,
        collections: list[str] | None = None,
        streaming_callback: Callable[[StreamingChunk], None] | None = None,
    ) -> tuple[Answer, list[Document]]:
        """The answer and every passage retrieved for it (cited or not): what evaluation needs."""
        started = time.perf_counter()
        allowed = collections_for(role)
        if collections:
            refused_scope = sorted(set(collections) - set(allowed))
            if refused_scope:
                msg = f"Role {role!r} may not read {', '.join(refused_scope)}: choose among {', '.join(allowed)}."
                raise ScopeError(msg)
        collections = [c for c in allowed if not collections or c in collections]
        raw = validate_question(question, self.settings.retrieval.max_question_chars)
        if language is not None and language not in LANGUAGE_NAMES:
            msg = f"Unknown answer language {language!r}: use one of {', '.join(LANGUAGE_NAMES)}."
            raise InvalidQuestionError(msg)
        self.warm_up()
        # Personal data is replaced first: nothing after this line sees the original question.
        scrubbed = scrub(raw)
        question = scrubbed.text
        turns = [{"role": t["role"], "content": scrub(str(t.get("content", ""))).text} for t in (history or [])][-6:]
        asked_in = detect_language(question)
        lang = language or asked_in
        query = retrieval_query(question, turns)
        data = {
            "text_embedder": {"text": query},
            "sparse_embedder": {"text": query, "language": asked_in},
            "retriever": {"collections": collections, "language": asked_in},
            "prompt_builder": {
                "question": question,
                "language_name": LANGUAGE_NAMES[lang],
                "history": turns,
            },
            "generator": {
                "question": question,
                "context": query,
                "language": lang,
                "streaming_callback": streaming_callback,
            },
            "answer_builder": {"question": question, "context": query, "language": lang},
            "refusal": {"language": lang},
        }
        result = self.pipeline.run(data, include_outputs_from={"retriever"})
        answer: Answer = (result.get("answer_builder") or result["refusal"])["answer"]
        if not answer.refused and answer.generator == "extractive":
            source_langs = {
                str(c.doc_id and d.meta.get("language", "sv"))
                for c in answer.citations
                for d in result["retriever"]["documents"]
                if d.meta.get("doc_id") == c.doc_id
            }
            if lang not in source_langs:
                answer.notices.append(phrase(NO_TRANSLATION_NOTICE, lang))
                answer.language = sorted(source_langs)[0] if source_langs else "sv"
        if scrubbed.changed:
            answer.scrubbed = True
            kinds = ", ".join(sorted(scrubbed.found))
            answer.notices.insert(0, phrase(SCRUBBED_NOTICE, lang).format(kinds=kinds))
        answer.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        logger.info(
            "answered role=%s language=%s refused=%s citations=%s generator=%s scrubbed=%s ms=%s",
            role,
            lang,
            answer.refused,
            [c.doc_id for c in answer.citations],
            answer.generator,
            sorted(scrubbed.found),
            answer.timings["total_ms"],
        )
        return answer, result["retriever"]["documents"]

    def close(self) -> None:
        """Release the store (the embedded shard is one process's at a time)."""
        if isinstance(self.document_store, EdgeDocumentStore):
            self.document_store.close()


def retrieval_query(question: str, turns: list[dict[str, str]]) -> str:
    """A follow-up ("and at night?") is retrieved together with the user's earlier question(s) of the conversation.

    Without an LLM there is no safe rewrite, so the earlier user turns (already scrubbed) go in front of the
    question: retrieval then finds the routine the conversation is about, and the new words steer within it.
    """
    earlier = [t["content"] for t in turns if t.get("role") == "user" and t.get("content")]
    return " ".join([*earlier[-2:], question]) if earlier else question


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
