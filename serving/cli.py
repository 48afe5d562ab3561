"""Commands of the HTTP service (`assist serve`, `assist token create`, `assist db upgrade`), called by the root CLI."""

import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from assist.errors import AssistError
from assist.settings import Settings
from serving.audit import AUDIT_FILE, AuditLog
from serving.config import ServingSettings
from serving.files import private_file
from serving.state import Database, database_for
from serving.tokens import TokenStore

#: Where `assist serve` notes the address it listens on (read by `assist token create`).
ADDRESS_FILE = "serve.json"

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
    from uvicorn.main import STARTUP_FAILURE  # noqa: PLC0415

    from serving.app import create_app  # noqa: PLC0415
    from serving.server import server_config  # noqa: PLC0415

    settings = settings or _settings(store, url)
    try:
        serving = ServingSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        typer.secho(f"Error: the service's settings are not valid: {problems}.", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    if host is not None:
        serving.host = host
    if port is not None:
        serving.port = port
    try:
        check_roles_at_start(settings)
        database = upgrade_database(settings)
        tokens = TokenStore(database, roles=settings.roles)
        if not serving.oidc.enabled and not any(t.revoked is None for t in tokens.list()):
            typer.secho(
                f"No access tokens yet: create one with `assist token create --role {settings.roles.names[0]}`.",
                fg=typer.colors.YELLOW, err=True,
            )
        database.close()
    except AssistError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    if serving.host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"Listening on {serving.host}: put TLS in front of it.", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"Frontline Assist on http://{serving.host}:{serving.port}/", err=True)
    if serving.oidc.enabled:
        _sign_in_notes(serving)
    record_address(settings.data_dir, serving)
    server = uvicorn.Server(server_config(create_app(settings, serving), serving, log_level=log_level))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        # As uvicorn.run does: the startup error is in the log above; the exit status says it failed.
        raise typer.Exit(code=STARTUP_FAILURE)


def _sign_in_notes(serving: ServingSettings) -> None:
    """Say where sign-in goes, and warn where browsers would drop the Secure session cookie (plain http that is not
    loopback) or where the redirect address would come from each request's Host header.
    """
    base = serving.oidc.redirect_base_url or serving.public_url
    typer.echo(f"Sign-in with the city's accounts at {serving.oidc.issuer}", err=True)
    if base is None:
        typer.secho("Set ASSIST_OIDC__REDIRECT_BASE_URL (or ASSIST_SERVE__PUBLIC_URL) to the address browsers use: "
                    "without it the provider's redirect address follows each request.",
                    fg=typer.colors.YELLOW, err=True)
    elif base.startswith("http://") and urlsplit(base).hostname not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"{base} is plain http: browsers keep the Secure session cookie only over https (or on "
                    "loopback), so sign-in will not hold. Put TLS in front of the service.",
                    fg=typer.colors.YELLOW, err=True)


def upgrade_database(settings: Settings) -> Database:
    """Bring the configured database to the current schema, and move an older version's audit.log file into it."""
    database = database_for(settings)
    before, after = database.upgrade()
    if before != after:
        logger.info("Database %s: schema %s -> %s", database, before or "none", after)
    moved = AuditLog(database).adopt_file(settings.data_dir / AUDIT_FILE)
    if moved:
        logger.info("Moved %d audit entries from %s into the database", moved, settings.data_dir / AUDIT_FILE)
    return database


def db_upgrade(data_dir: Path | None = None) -> None:
    """`assist db upgrade`: bring the configured database to the current schema and say where it stands."""
    settings = _settings(data_dir=data_dir)
    try:
        database = database_for(settings)
        before = database.revision()
        upgrade_database(settings)
        database.close()
    except AssistError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    head = Database.head()
    if before == head:
        typer.echo(f"Database {database} is at the current schema ({head}).")
    else:
        typer.echo(f"Database {database} upgraded from {before or 'no schema'} to {head}.")


def check_roles_at_start(settings: Settings) -> None:
    """Stop at start-up on a malformed roles file or a role naming a collection the store does not hold.

    A store not ingested yet is left to /readyz; the store is opened only for this check (a shard is one process's).
    """
    from assist.backends import make_document_store  # noqa: PLC0415
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415
    from assist.errors import StoreDamagedError  # noqa: PLC0415
    from assist.pipeline import check_roles  # noqa: PLC0415

    roles = settings.roles
    store = make_document_store(settings)
    if isinstance(store, EdgeDocumentStore):
        if not store.exists():
            return
        try:
            check_roles(roles, store)
        except StoreDamagedError as exc:
            # The service still starts: /readyz reports the damage and questions get 503 until it is rebuilt.
            logger.warning("Roles not checked against the store: %s", exc)
        finally:
            store.close()
        return
    try:
        check_roles(roles, store)
    except AssistError:
        raise
    except Exception as exc:  # noqa: BLE001 - a server that cannot be reached is /readyz's to report
        logger.warning("Could not check the roles against the Qdrant server: %s", type(exc).__name__)


def service_url(serving: ServingSettings) -> str:
    """The address phones reach the service at: `public_url`, else the address it listens on."""
    if serving.public_url:
        return serving.public_url.rstrip("/") + "/"
    host = serving.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - names the wildcard, binds nothing
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{serving.port}/"


def record_address(data_dir: Path, serving: ServingSettings) -> None:
    """Note where `assist serve` listens, so that `assist token create` prints a sign-in link that works."""
    path = private_file(data_dir / ADDRESS_FILE)
    path.write_text(json.dumps({"url": service_url(serving)}), encoding="utf-8")


def sign_in_base(data_dir: Path, serving: ServingSettings, host: str | None, port: int | None) -> str:
    """The base of a sign-in link: an explicit host/port or `public_url`, else the address the service last
    started on, else the configured host and port.
    """
    if host is not None or port is not None:
        return service_url(serving.model_copy(update={"host": host or serving.host, "port": port or serving.port,
                                                      "public_url": None}))
    if serving.public_url:
        return service_url(serving)
    try:
        return str(json.loads((data_dir / ADDRESS_FILE).read_text(encoding="utf-8"))["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return service_url(serving)


def token_create(role: str, data_dir: Path | None = None, host: str | None = None, port: int | None = None) -> str:
    """Create a token for `role`, print it once with a link that signs the phone page in, and return it."""
    settings = _settings(data_dir=data_dir)
    serving = ServingSettings()
    store: TokenStore | None = None
    try:
        store = TokenStore(database_for(settings), roles=settings.roles)
        token_id, token = store.create(role)
    except AssistError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    finally:
        if store is not None:
            store.close()
    typer.echo(token)
    link = f"{sign_in_base(settings.data_dir, serving, host, port)}#token={token}"
    typer.echo(f"Token {token_id} for role {role}; it is shown only now. Phone page: {link}", err=True)
    return token


def token_revoke(token_id: str, data_dir: Path | None = None) -> None:
    """Revoke a token by its id."""
    store: TokenStore | None = None
    try:
        store = TokenStore(database_for(_settings(data_dir=data_dir)))
        if not store.revoke(token_id):
            typer.secho(f"Error: no active token {token_id}.", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2)
    except AssistError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    finally:
        if store is not None:
            store.close()
    typer.echo(f"Revoked {token_id}.")
