"""Commands of the HTTP service (`assist serve`, `assist token create`), called by the root CLI."""

import logging
import os
from pathlib import Path

import typer

from assist.errors import AssistError
from assist.settings import Settings
from serving.app import SQLITE_FILE
from serving.config import ServingSettings
from serving.tokens import TokenStore

logger = logging.getLogger(__name__)


def _settings(store: Path | None = None, url: str | None = None, data_dir: Path | None = None) -> Settings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings()
    if data_dir is not None:
        settings.data_dir = data_dir
    if store is not None:
        settings.qdrant.path = store
    if url is not None:
        settings.qdrant.url = url
    return settings


def serve(
    *,
    host: str | None = None,
    port: int | None = None,
    store: Path | None = None,
    url: str | None = None,
    settings: Settings | None = None,
    log_level: str = "info",
) -> None:
    """Start the service with uvicorn in this process (one worker: the embedded store is one process's)."""
    import uvicorn  # noqa: PLC0415

    from serving.app import create_app  # noqa: PLC0415

    settings = settings or _settings(store, url)
    serving = ServingSettings()
    if host is not None:
        serving.host = host
    if port is not None:
        serving.port = port
    tokens = TokenStore(settings.data_dir / SQLITE_FILE)
    if not any(t.revoked is None for t in tokens.list()):
        typer.secho("No access tokens yet: create one with `assist token create --role home-care`.",
                    fg=typer.colors.YELLOW, err=True)
    tokens.close()
    if serving.host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"Listening on {serving.host}: put TLS in front of it.", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"Frontline Assist on http://{serving.host}:{serving.port}/", err=True)
    uvicorn.run(
        create_app(settings, serving), host=serving.host, port=serving.port, workers=1, log_level=log_level,
        proxy_headers=False, server_header=False, timeout_graceful_shutdown=5,
    )


def token_create(role: str, data_dir: Path | None = None, host: str | None = None, port: int | None = None) -> str:
    """Create a token for `role`, print it once with a link that signs the phone page in, and return it."""
    settings = _settings(data_dir=data_dir)
    serving = ServingSettings()
    store = TokenStore(settings.data_dir / SQLITE_FILE)
    try:
        token_id, token = store.create(role)
    except AssistError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    finally:
        store.close()
    typer.echo(token)
    link = f"http://{host or serving.host}:{port or serving.port}/#token={token}"
    typer.echo(f"Token {token_id} for role {role}; it is shown only now. Phone page: {link}", err=True)
    return token


def token_revoke(token_id: str, data_dir: Path | None = None) -> None:
    """Revoke a token by its id."""
    store = TokenStore(_settings(data_dir=data_dir).data_dir / SQLITE_FILE)
    try:
        if not store.revoke(token_id):
            typer.secho(f"Error: no active token {token_id}.", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2)
    finally:
        store.close()
    typer.echo(f"Revoked {token_id}.")
