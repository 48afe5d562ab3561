"""Settings of the HTTP service itself, read from ASSIST_SERVE__* environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    """Where the service listens and how much any one caller may ask of it."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_SERVE__", env_file=".env", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface to bind; loopback unless told otherwise.")
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; none by default.")
    rate_per_minute: float = Field(default=60.0, description="Sustained requests per minute per token.")
    rate_burst: int = Field(default=20, description="Requests a token may make at once before the rate applies.")
    max_body_bytes: int = Field(default=64 * 1024, description="Largest request body accepted.")
    ask_workers: int | None = Field(
        default=None, description="Questions answered at once; default 1 for llama.cpp (not thread-safe), else 4."
    )
    max_waiting: int = Field(default=256, description="Questions allowed to wait for a worker before 503.")
    hsts: bool = Field(default=False, description="Send Strict-Transport-Security (only behind TLS).")
