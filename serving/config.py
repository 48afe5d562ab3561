"""Settings of the HTTP service itself, read from ASSIST_SERVE__* environment variables."""

from typing import Literal

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
    max_upload_mb: float = Field(
        default=20.0, gt=0, description="Largest routine file a content owner may upload from the owners' page."
    )
    ask_workers: int | None = Field(
        default=None, description="Questions answered at once; default 1 for llama.cpp (not thread-safe), else 4."
    )
    max_waiting: int = Field(default=256, description="Questions allowed to wait for a worker before 503.")
    max_in_flight_per_token: int | None = Field(
        default=2, ge=1,
        description="Questions one token may have in flight (answered or waiting); one more gets 429 with "
                    "Retry-After. Workers go to the waiting tokens in turn, so no token can starve another.",
    )
    max_generator_in_flight: int | None = Field(
        default=None, ge=1,
        description="Answers in flight to the LLM generator at once; past it the busy policy applies. "
                    "Default 32 for an OpenAI-compatible endpoint (vLLM), no cap for llama.cpp and extractive.",
    )
    busy_policy: Literal["busy", "extractive"] = Field(
        default="busy",
        description="Past the cap: 'busy' answers 503 with Retry-After; 'extractive' quotes the routines, marked.",
    )
    busy_retry_after_s: int = Field(default=3, ge=1, description="Retry-After sent with the busy answer.")
    hsts: bool = Field(default=False, description="Send Strict-Transport-Security (only behind TLS).")
    header_timeout_s: float = Field(
        default=10.0, gt=0,
        description="A connection whose request line and headers are not complete this long after its first byte "
                    "(or after it opened) is closed: slow-header (slowloris) clients cannot hold connections.",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="A request body not complete this long after the headers gets 408."
    )
    limit_concurrency: int = Field(
        default=200, ge=2, description="Connections and requests at once; past it the server answers 503."
    )
    timeout_keep_alive_s: int = Field(default=5, ge=1, description="Idle kept-alive connections close after this.")
    public_url: str | None = Field(
        default=None,
        description="The address staff's phones reach the service at (e.g. https://assist.city.example), used in "
                    "the sign-in link `assist token create` prints; default the address `assist serve` listens on.",
    )
