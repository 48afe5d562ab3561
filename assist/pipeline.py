"""The one answer pipeline every surface calls: scrub → detect language → embed → retrieve (role-scoped) → gate
→ prompt → generate → check citations.
"""

import json
import logging
import threading
import time
import unicodedata
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from haystack import Document, Pipeline
from haystack.dataclasses import StreamingChunk

from assist import lemmas
from assist.backends import (
    embedder_name,
    make_chat_generator,
    make_document_embedder,
    make_document_store,
    make_text_embedder,
    stored_collections,
)
from assist.components.answer_builder import CitedAnswerBuilder, ClosestBuilder, RefusalBuilder
from assist.components.answer_generator import GuardedAnswerGenerator
from assist.components.bm25_embedder import Bm25TextSparseEmbedder
from assist.components.contacts import ContactsLookup
from assist.components.edge_store import EdgeDocumentStore
from assist.components.instruction_filter import InstructionFilter
from assist.components.relevance_gate import RelevanceGate
from assist.components.retriever import ScopedRetriever
from assist.components.routine_expander import RoutineExpander
from assist.errors import ConfigError, InvalidQuestionError, ScopeError, StoreNotFoundError
from assist.languages import (
    LANGUAGE_NAMES,
    NO_TRANSLATION_NOTICE,
    SCRUBBED_NOTICE,
    detect_language,
    phrase,
    warm_up_languages,
)
from assist.privacy import scrub, warm_up_scrub
from assist.review import review_notices
from assist.roles import Roles
from assist.schemas import Answer
from assist.settings import Settings
from assist.translation import translations

logger = logging.getLogger(__name__)

STORE_INFO_FILE = "assist_store.json"


def build_answer_pipeline(settings: Settings, document_store: Any) -> Pipeline:
    """Wire the answer pipeline; sockets are connected explicitly."""
    chat_generator, name = make_chat_generator(settings)
    r = settings.retrieval
    p = Pipeline()
    p.add_component("text_embedder", make_text_embedder(settings))
    glossary_dir = str(settings.knowledge_dir) if settings.knowledge_dir else None
    dictionaries = str(r.dictionary_dir) if r.dictionary_dir else None
    p.add_component("sparse_embedder", Bm25TextSparseEmbedder(glossary_dir=glossary_dir, dictionary_dir=dictionaries))
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
        "gate",
        RelevanceGate(
            min_score=r.min_score,
            scope_margin=r.scope_margin,
            document_store=document_store,
            glossary_dir=glossary_dir,
            calibration=str(r.calibration) if r.calibration else None,
            unit_embedder=make_document_embedder(settings),
            dictionary_dir=dictionaries,
        ),
    )
    p.add_component("expander", RoutineExpander(document_store=document_store))
    p.add_component("instruction_filter", InstructionFilter())
    p.add_component("generator", GuardedAnswerGenerator(chat_generator=chat_generator, name=name))
    p.add_component("answer_builder", CitedAnswerBuilder())
    p.add_component("closest", ClosestBuilder())
    p.add_component("refusal", RefusalBuilder())
    # Whom to ask next, from the contacts routine: for a refusal, and for a closest answer (before the contacts its
    # likeliest routine names itself, which the closest answer falls back to).
    for name in ("contacts", "closest_contacts"):
        p.add_component(name, ContactsLookup(document_store=document_store, doc_id=settings.retrieval.contacts_doc_id))

    p.connect("text_embedder.embedding", "retriever.query_embedding")
    p.connect("sparse_embedder.sparse_embedding", "retriever.query_sparse_embedding")
    p.connect("retriever.documents", "gate.documents")
    p.connect("retriever.outside_best", "gate.outside_best")
    p.connect("retriever.query_vector", "gate.query_embedding")
    p.connect("gate.passed", "expander.documents")
    p.connect("expander.documents", "instruction_filter.documents")
    # The generator and the answer read the passages without instruction-like lines: an LLM generator sends its
    # passages to the model (the answerability check too), and the answer quotes them.
    p.connect("instruction_filter.documents", "generator.documents")
    p.connect("instruction_filter.documents", "answer_builder.documents")
    p.connect("gate.closest", "closest.closest")
    p.connect("gate.grounding", "closest.grounding")
    p.connect("gate.grounding", "generator.grounding")
    p.connect("gate.grounding", "answer_builder.grounding")
    p.connect("gate.rejected", "refusal.rejected")
    p.connect("gate.rejected", "contacts.rejected")
    p.connect("text_embedder.embedding", "contacts.query_embedding")
    p.connect("contacts.documents", "refusal.contacts")
    p.connect("gate.closest", "closest_contacts.rejected")
    p.connect("text_embedder.embedding", "closest_contacts.query_embedding")
    p.connect("closest_contacts.documents", "closest.contacts")
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
        lemmas.configure(settings.lemma_cache_dir)
        self.document_store = make_document_store(settings, create=False)
        self.pipeline = build_answer_pipeline(settings, self.document_store)
        self.roles = settings.roles
        #: The collections the store holds, found at warm-up (what a role reading "*" reads).
        self.collections: list[str] = []
        #: The roles naming collections the store does not hold, and those collections: their questions get an error.
        self.incomplete_roles: dict[str, list[str]] = {}
        self._warm = False

    def warm_up(self) -> None:
        """Check the store exists and matches the embedder, and load the models."""
        if self._warm:
            return
        check_store(self.settings, self.document_store)
        self.collections, self.incomplete_roles = check_roles(self.roles, self.document_store)
        self.pipeline.warm_up()
        warm_up_scrub()
        warm_up_languages()
        # The word lists of the served languages (scrub, grounding) and the translation tables: mapped in
        # milliseconds, built once per machine; in the background, so that no start waits for that first build.
        threading.Thread(target=self._warm_up_word_lists, name="word-lists-warm-up", daemon=True).start()
        self._warm = True

    def _warm_up_word_lists(self) -> None:
        lemmas.warm_up(LANGUAGE_NAMES)
        if self.settings.retrieval.dictionary_dir:
            translations(str(self.settings.retrieval.dictionary_dir)).warm_up()

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
        reads_all = self.roles.role(role).reads_all  # an unknown role is the caller's error, whatever the store
        self.warm_up()
        if role in self.incomplete_roles:
            # Answering from the rest of its collections would hide a gap; every other role is still answered.
            missing = {role: self.incomplete_roles[role]}
            raise ConfigError(self.roles.missing_message(missing, self.collections, source=False))
        allowed = self.roles.collections_for(role, self.collections)
        if reads_all:
            allowed = [c for c in allowed if c in self.collections]  # what the store holds, not what the file names
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
        r = self.settings.retrieval
        turns = bounded_turns(history, turns=r.history_turns, chars=r.history_turn_chars)
        asked_in = detect_language(question)
        lang = language or asked_in
        # The retrieval query is what every costly step works on (the embedding, the search, the key terms compared
        # with each passage's sentences): its question part is cut, so that a long question costs a normal one's work.
        searched = question if len(question) <= r.query_chars else cut_text(question, r.query_chars)
        query = retrieval_query(searched, turns, max_turns=r.query_turns, turn_chars=r.query_turn_chars)
        data = {
            "text_embedder": {"text": query},
            "sparse_embedder": {"text": query, "language": asked_in, "collections": collections},
            "retriever": {"collections": collections, "language": asked_in},
            "contacts": {"collections": collections},
            "closest_contacts": {"collections": collections},
            # A follow-up ("and at night?") is judged with the earlier question it continues, as it is retrieved.
            "gate": {"question": query, "collections": collections, "language": asked_in},
            "generator": {
                "question": question,
                "language_name": LANGUAGE_NAMES[lang],
                "history": turns,
                "context": query,
                "language": lang,
                "streaming_callback": streaming_callback,
            },
            "answer_builder": {"question": question, "context": query, "language": lang},
            "closest": {"question": question, "language": lang},
            "refusal": {"language": lang},
        }
        # One store version for the whole question, even when ingest publishes a new one meanwhile.
        pin = self.document_store.pinned() if isinstance(self.document_store, EdgeDocumentStore) else nullcontext()
        with pin:
            result = self.pipeline.run(data, include_outputs_from={"retriever"})
        answer: Answer = (result.get("answer_builder") or result.get("closest") or result["refusal"])["answer"]
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
        if answer.status == "answered":
            # A routine past its review date still answers; the answer says so, on every surface.
            metas = {str(d.meta.get("doc_id")): d.meta for d in result["retriever"]["documents"]}
            cited = [metas.get(c.doc_id, {"doc_id": c.doc_id}) for c in answer.citations]
            answer.notices.extend(review_notices(cited, answer.language))
        if scrubbed.changed:
            answer.scrubbed = True
            kinds = ", ".join(sorted(scrubbed.found))
            answer.notices.insert(0, phrase(SCRUBBED_NOTICE, lang).format(kinds=kinds))
        answer.timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        logger.info(
            "answered role=%s language=%s status=%s citations=%s generator=%s scrubbed=%s ms=%s",
            role,
            lang,
            answer.status,
            [c.doc_id for c in answer.citations],
            answer.generator,
            sorted(scrubbed.found),
            answer.timings["total_ms"],
        )
        return answer, result["retriever"]["documents"]

    def close(self) -> None:
        """Release the store: the version it reads, and a private copy of it if one was made."""
        if isinstance(self.document_store, EdgeDocumentStore):
            self.document_store.close()


def cut_text(text: str, limit: int) -> str:
    """`text` with whitespace collapsed, cut to at most `limit` characters at a word boundary ("…" marks a cut)."""
    text = " ".join(text[: limit * 4 + 16].split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


def bounded_turns(history: list[dict[str, str]] | None, *, turns: int, chars: int) -> list[dict[str, str]]:
    """The last `turns` earlier turns, scrubbed, each at most `chars` characters long.

    A turn is cut before it is scrubbed (the scrubber's time grows with the text too) and again after: the first
    cut keeps twice the room, so a personal-data item split by it lies past the final cut and never reaches the
    prompt half-replaced.
    """
    if not history or turns <= 0:
        return []
    out = []
    for t in history[-turns:]:
        raw = cut_text(str(t.get("content", "")), 2 * chars)
        out.append({"role": str(t.get("role", "user")), "content": cut_text(scrub(raw).text, chars)})
    return out


def retrieval_query(
    question: str, turns: list[dict[str, str]], *, max_turns: int = 2, turn_chars: int = 300
) -> str:
    """A follow-up ("and at night?") is retrieved together with the user's earlier question(s) of the conversation.

    Without an LLM there is no safe rewrite, so the earlier user turns (already scrubbed) go in front of the
    question: retrieval then finds the routine the conversation is about, and the new words steer within it.
    Only the last `max_turns` user turns, each cut to `turn_chars`, go in: the embedding's time grows with the
    query (about 1 s per 1,000 characters on a laptop CPU), so an unbounded history would let one caller hold a
    worker for minutes.
    """
    earlier = [t["content"] for t in turns if t.get("role") == "user" and t.get("content")]
    if not earlier or max_turns <= 0:
        return question
    return " ".join([*(cut_text(e, turn_chars) for e in earlier[-max_turns:]), question])


#: Categories that never occur in typed text: controls (other than whitespace) and lone surrogates. Format characters
#: (Cf: the zero-width joiner inside family emoji, bidi marks, soft hyphens) are typed text and pass, and so do code
#: points this Python's Unicode tables do not know yet (Cn), such as emoji newer than the tables.
JUNK_CATEGORIES = frozenset({"Cc", "Cs"})


def _is_junk(c: str) -> bool:
    # U+FFFD is what a decoder writes for bytes that are not text.
    return c == "\ufffd" or (unicodedata.category(c) in JUNK_CATEGORIES and not c.isspace())


def validate_question(question: object, max_chars: int) -> str:
    """A clean question string, or InvalidQuestionError saying what is wrong."""
    if not isinstance(question, str):
        msg = "The question must be text."
        raise InvalidQuestionError(msg)
    if "\x00" in question or sum(map(_is_junk, question)) > len(question) // 10:
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
    """Fail clearly when the store is missing, damaged, or was built with another embedding model.

    The embedded store's files are compared with the checksums written when its version was published, and a
    probe reads a sample of its vectors (StoreDamagedError says how to recover).
    """
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
    store.verify()


def check_roles(roles: Roles, store: Any) -> tuple[list[str], dict[str, list[str]]]:
    """The collections the store holds, and those each role names that it does not hold ({role: [...]}, only the
    roles missing some): such a role cannot be answered, every other role can.
    """
    present = stored_collections(store)
    return present, roles.check_collections(present)
