"""Settings for every part of the product, read from ASSIST_* environment variables or a .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class QdrantSettings(BaseModel):
    """Where the vectors live: an embedded Qdrant Edge shard by default, a Qdrant server when `url` is set."""

    path: Path | None = Field(default=None, description="Folder of the embedded shard; default <data_dir>/qdrant.")
    url: str | None = Field(default=None, description="Qdrant server or cluster URL; overrides path.")
    api_key: SecretStr | None = None
    collection: str = Field(default="frontline", description="Qdrant collection (server) name.")


class EmbedderSettings(BaseModel):
    """Which embedding model turns text into vectors."""

    backend: Literal["e5", "sentence-transformers"] = "e5"
    model_path: str | None = Field(
        default=None, description="sentence-transformers model folder; default the packaged all-MiniLM-L6-v2."
    )
    device: str = "cpu"
    batch_size: int = 32


class GeneratorSettings(BaseModel):
    """Which generator writes the answer text."""

    backend: Literal["extractive", "llamacpp", "openai"] = "extractive"
    api_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint, e.g. a vLLM server.")
    model: str = Field(default="default", description="Model name the endpoint serves.")
    api_key: SecretStr = SecretStr("none")
    timeout_s: float = 60.0
    model_path: str | None = Field(default=None, description="GGUF file for llamacpp; default the packaged SmolLM2.")
    max_tokens: int = 400
    temperature: float = 0.0
    n_ctx: int = 4096


class RetrievalSettings(BaseModel):
    """How many passages to fetch and how strong the evidence must be."""

    top_k: int = 10
    mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    candidates: int = Field(default=32, description="Chunks fetched from Qdrant before documents are ranked.")
    per_doc: int = Field(default=2, description="At most this many chunks of one document reach the answer.")
    title_weight: float = Field(
        default=1.0, description="Dense ranking: weight of a document title's cosine added to its best chunk's."
    )
    title_weight_fused: float = Field(
        default=0.5, description="Hybrid/sparse ranking: weight of the title order as a further RRF list; 0 = off."
    )
    by_language: bool = Field(
        default=True,
        description="For a question in one of the stored languages, dense candidates are fetched per document "
        "language and scored against that language's own best matches, so a routine in another language than the "
        "question competes on equal terms.",
    )
    language_rank: int = Field(
        default=3, ge=1, description="by_language: each language's cosines are measured from its n-th best chunk."
    )
    min_score: float = Field(default=0.80, description="Below this top dense score the question is refused.")
    scope_margin: float = Field(
        default=0.03, description="Refuse when another role's routine beats the caller's best passage by this much."
    )
    max_question_chars: int = 2000
    contacts_doc_id: str = Field(default="general-kontakter", description="Document that says who to ask.")


class Settings(BaseSettings):
    """All settings; nested groups use `__`, e.g. ASSIST_GENERATOR__BACKEND=openai."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_", env_nested_delimiter="__", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    qdrant: QdrantSettings = QdrantSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    generator: GeneratorSettings = GeneratorSettings()
    retrieval: RetrievalSettings = RetrievalSettings()

    @property
    def store_path(self) -> Path:
        """Folder of the embedded shard."""
        return self.qdrant.path or self.data_dir / "qdrant"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()


def settings_for(store: Path | None = None, url: str | None = None) -> Settings:
    """Settings from the environment, with a command line's --store / --url on top."""
    settings = Settings()
    if store is not None:
        settings.qdrant.path = store
    if url is not None:
        settings.qdrant.url = url
    return settings
