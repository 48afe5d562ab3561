"""Settings of the HTTP service itself, read from ASSIST_SERVE__* environment variables."""

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OIDCSettings(BaseSettings):
    """Sign-in with the city's identity provider (OpenID Connect), read from ASSIST_OIDC__* variables.

    With no issuer nothing changes: bearer tokens are the only sign-in. With one, the phone page offers "Sign in
    with your city account" and a signed-in browser's session cookie stands in for the token on its API calls;
    tokens keep working for the API, the terminal client and scripts.
    """

    model_config = SettingsConfigDict(env_prefix="ASSIST_OIDC__", env_file=".env", extra="ignore")

    issuer: str | None = Field(
        default=None,
        description="The provider's issuer URL (its discovery document is ISSUER/.well-known/openid-configuration).",
    )
    client_id: str = Field(default="", description="This service's client id at the provider.")
    client_secret: SecretStr | None = Field(default=None, description="This service's client secret at the provider.")
    redirect_base_url: str | None = Field(
        default=None,
        description="The address browsers reach the service at (https://assist.city.example); the provider sends "
                    "them back to REDIRECT_BASE_URL/auth/callback. Default ASSIST_SERVE__PUBLIC_URL.",
    )
    scopes: list[str] = Field(
        default=["openid", "profile"],
        description='Scopes asked for; add the one your provider needs for the groups claim (e.g. "groups").',
    )
    session_lifetime_s: int = Field(
        default=8 * 3600, ge=60, description="A signed-in session ends this long after sign-in (a working shift)."
    )
    http_timeout_s: float = Field(default=10.0, gt=0, description="Deadline of each call to the provider.")

    @field_validator("issuer", "redirect_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("https://", "http://")):
            msg = f"{value!r} is not a URL: write https://host[:port][/path]"
            raise ValueError(msg)
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        return value if "openid" in value else ["openid", *value]

    @model_validator(mode="after")
    def _client_for_issuer(self) -> "OIDCSettings":
        if self.issuer and not self.client_id:
            msg = "ASSIST_OIDC__ISSUER is set without ASSIST_OIDC__CLIENT_ID: set both, or unset the issuer"
            raise ValueError(msg)
        return self

    @property
    def enabled(self) -> bool:
        """True when an issuer is configured."""
        return self.issuer is not None


class ServingSettings(BaseSettings):
    """Where the service listens and how much any one caller may ask of it."""

    model_config = SettingsConfigDict(env_prefix="ASSIST_SERVE__", env_file=".env", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface to bind; loopback unless told otherwise.")
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; none by default.")
    rate_per_minute: float = Field(default=60.0, description="Sustained requests per minute per token.")
    rate_burst: int = Field(default=20, description="Requests a token may make at once before the rate applies.")
    max_body_bytes: int = Field(default=64 * 1024, description="Largest request body accepted.")
    public_rate_per_minute: float = Field(
        default=600.0, gt=0,
        description="Sustained requests per minute per client address to the paths served without a token (the "
                    "page and its files, /healthz, /readyz, /transparency, sign-in); past it 429 with Retry-After.",
    )
    public_rate_burst: int = Field(default=200, ge=1, description="Public requests an address may make at once.")
    login_rate_per_minute: float = Field(
        default=30.0, gt=0,
        description="Sign-ins an address may start per minute (/auth/login; each keeps a pending sign-in row).",
    )
    login_rate_burst: int = Field(default=30, ge=1, description="Sign-ins an address may start at once.")
    max_upload_mb: float = Field(
        default=20.0, gt=0, description="Largest routine file a content owner may upload from the owners' page."
    )
    workers: int | None = Field(
        default=None, ge=1,
        description="Processes answering on the one port (each with its own models and its own copy of the embedded "
                    "store); default the CPUs the service may use. With more than one, the per-token counters are "
                    "shared through a file in the data dir (or Redis when ASSIST_REDIS__URL is set).",
    )
    ask_workers: int | None = Field(
        default=None,
        description="Questions answered at once; default 1 for llama.cpp (not thread-safe), the generator cap + 4 for "
                    "an OpenAI-compatible endpoint, else 4 or the CPUs the process may use if fewer.",
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
    token_cache_s: float = Field(
        default=5.0, ge=0,
        description="Seconds a token lookup is reused instead of asking the database on every request (0: never). "
                    "A revocation takes effect at once in the worker process that made it; elsewhere (the other "
                    "workers, another replica, after one made by the CLI) within this many seconds.",
    )
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
        default=200, ge=2,
        description="Requests being answered at once (their headers complete); past it the server answers 503 with "
                    "Retry-After. Connections still sending their headers do not count here.",
    )
    max_pending_connections: int = Field(
        default=1000, ge=10,
        description="Connections with no request being answered (just opened, still sending headers, or idle "
                    "between kept-alive requests); past it the one waiting longest is closed (408 if it had begun "
                    "a request), so slow clients cannot keep anyone else out.",
    )
    timeout_keep_alive_s: int = Field(default=5, ge=1, description="Idle kept-alive connections close after this.")
    public_url: str | None = Field(
        default=None,
        description="The address staff's phones reach the service at (e.g. https://assist.city.example), used in "
                    "the sign-in link `assist token create` prints; default the address `assist serve` listens on.",
    )
    oidc: OIDCSettings = Field(default_factory=OIDCSettings, description="Sign-in with the city's identity provider.")
