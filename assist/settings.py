"""Settings for every part of the product, read from ASSIST_* environment variables or a .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from assist.roles import Roles, load_roles


class QdrantSettings(BaseModel):
    """Where the vectors live: an embedded Qdrant Edge shard by default, a Qdrant server when `url` is set."""

    path: Path | None = Field(default=None, description="Folder of the embedded shard; default <data_dir>/qdrant.")
    url: str | None = Field(default=None, description="Qdrant server or cluster URL; overrides path.")
    api_key: SecretStr | None = None
    collection: str = Field(default="frontline", description="Qdrant collection (server) name.")
    verify_interval_s: float = Field(
        default=300.0, ge=0,
        description="Seconds between checks of the served embedded store version's files against its manifest's "
        "checksums, in a background thread (also once at each version switch); 0 turns the background check off.",
    )


class EmbedderSettings(BaseModel):
    """Which embedding model turns text into vectors."""

    backend: Literal["e5", "sentence-transformers"] = "e5"
    model_path: str | None = Field(
        default=None, description="sentence-transformers model folder; default the packaged all-MiniLM-L6-v2."
    )
    device: str = "cpu"
    batch_size: int = 32
    threads: int | None = Field(
        default=None, ge=1,
        description="OpenMP threads of the e5 engine for questions (serve, ask, the terminal client, eval); "
        "default OMP_NUM_THREADS if set, else 1.",
    )
    ingest_threads: int | None = Field(
        default=None, ge=1,
        description="OpenMP threads of the e5 engine in `assist ingest`; default the machine's cores.",
    )


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
    calibration: Path | None = Field(
        default=None,
        description="Grounding calibration (JSON from scripts/calibrate.py); default the one shipped in the package.",
    )
    dictionary_dir: Path | None = Field(
        default=Path("/usr/share/dictd"),
        description="Folder of FreeDict dictionaries (Debian's dict-freedict-* packages) for matching a question's "
        "words across languages; none installed: matching by meaning only.",
    )
    max_question_chars: int = 2000
    history_turns: int = Field(default=6, ge=0, description="Earlier turns of a conversation that reach the prompt.")
    history_turn_chars: int = Field(
        default=1000, ge=50, description="Each earlier turn is cut to this many characters in the prompt."
    )
    query_turns: int = Field(
        default=2, ge=0, description="Earlier user turns retrieved together with a follow-up question."
    )
    query_turn_chars: int = Field(
        default=300, ge=20, description="Each earlier user turn is cut to this many characters in the retrieval query."
    )
    query_chars: int = Field(
        default=200,
        ge=20,
        description="The question is cut to this many characters in the retrieval query (what is embedded, searched "
        "and compared with the passages): a 2,000-character question then costs about what a normal one does.",
    )
    contacts_doc_id: str = Field(default="general-kontakter", description="Document that says who to ask.")


class IngestSettings(BaseModel):
    """Limits for `assist ingest`: each file is converted in a child process that is stopped when it breaches them."""

    convert_timeout_s: float = Field(
        default=120.0, gt=0, description="Wall-clock seconds one file may take to convert before it is stopped."
    )
    convert_memory_mb: int = Field(
        default=1536, gt=0, description="Memory (MB) one file's conversion may use on top of the converter itself."
    )
    batch_chunks: int | None = Field(
        default=None, gt=0, description="Chunks embedded and written per batch; default twice the embedder's batch."
    )
    max_chunks_per_file: int = Field(
        default=2000, gt=0,
        description="A file that splits into more chunks is reported failed before anything of it is embedded.",
    )
    max_seconds_per_file: float = Field(
        default=600.0, gt=0,
        description="Wall-clock seconds one file's chunks may take to embed and write; past it the file is stopped, "
        "its chunks removed, and it is reported failed (the rest of the folder still ingests).",
    )
    upload_max_chunks: int = Field(
        default=300, gt=0,
        description="An owner's upload that splits into more chunks is refused (413) before the store is touched.",
    )
    upload_max_seconds: float = Field(
        default=120.0, gt=0,
        description="Wall-clock seconds an owner's upload may hold the ingest lock; past it the upload is refused, "
        "nothing of it is kept and the lock is free again.",
    )
    upload_lock_wait_s: float = Field(
        default=10.0, ge=0,
        description="How long an owner's change waits for another owner's change to finish before it is answered "
        "503 with Retry-After.",
    )


class DatabaseSettings(BaseModel):
    """Where the service keeps tokens, feedback and the audit log: SQLite under the data dir unless `url` is set."""

    url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:pass@host:port/db) shared by every replica; "
        "default <data_dir>/serving.sqlite.",
    )


class RedisSettings(BaseModel):
    """Counters shared by the service's replicas (rate limits, questions and answers in flight); unset: in-process."""

    url: SecretStr | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0) shared by every replica; default counters in each process.",
    )
    prefix: str = Field(default="assist:", description="Prefix of every key, so that one Redis can serve several.")
    lease_s: float = Field(
        default=10.0, gt=0,
        description="A slot held by a replica that died frees itself this long after its last renewal.",
    )


class Settings(BaseSettings):
    """All settings; nested groups use `__`, e.g. ASSIST_GENERATOR__BACKEND=openai."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_", env_nested_delimiter="__", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    roles_file: Path | None = Field(
        default=None, description="The roles file (TOML, ASSIST_ROLES_FILE); default the packaged assist/roles.toml."
    )
    knowledge_dir: Path | None = Field(
        default=Path("knowledge"),
        description="Folder of the routines, one folder per collection: each collection's glossary.toml is read here.",
    )
    transparency_file: Path | None = Field(
        default=None,
        description="The transparency record's human-written fields (TOML, ASSIST_TRANSPARENCY_FILE); default the "
        "shipped example, whose placeholders `assist transparency` reports.",
    )
    lemma_cache_dir: Path | None = Field(
        default=None,
        description="Where the word lists (simplemma's dictionaries as tries) and the translation tables are saved "
        "once per machine and mapped by every process; default ~/.cache/frontline-assist/lemmas/simplemma-<version>.",
    )
    qdrant: QdrantSettings = QdrantSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    generator: GeneratorSettings = GeneratorSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    ingest: IngestSettings = IngestSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()

    @property
    def store_path(self) -> Path:
        """Folder of the embedded shard."""
        return self.qdrant.path or self.data_dir / "qdrant"

    @property
    def roles(self) -> Roles:
        """The roles of `roles_file`, read and checked once per process (ConfigError names what to fix)."""
        return load_roles(self.roles_file)


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
