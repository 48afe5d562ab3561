"""Commands of the HTTP service (`assist serve`, `assist token create`, `assist db upgrade`), called by the root CLI."""

import contextlib
import errno
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from assist.errors import AssistError, ConfigError, StoreNotFoundError
from assist.settings import Settings
from serving.audit import AUDIT_FILE, AuditLog
from serving.config import ServingSettings
from serving.files import private_file
from serving.state import Database, database_for
from serving.tokens import TokenStore

if TYPE_CHECKING:
    import uvicorn

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
    workers: int | None = None,
) -> None:
    """Start the service: uvicorn in this process with one worker, else `serving.workers`' supervisor over N worker
    processes on the one socket (`workers`: default ASSIST_SERVE__WORKERS, else the usable CPUs)."""
    from uvicorn.main import STARTUP_FAILURE  # noqa: PLC0415

    from owners.transparency import start_warning  # noqa: PLC0415
    from serving.app import create_app  # noqa: PLC0415
    from serving.server import server_config  # noqa: PLC0415

    settings = settings or _settings(store, url)
    serving = _serving_settings(host, port, workers)
    try:
        roles_warning = check_store_and_roles(settings)
        database = upgrade_database(settings)
        tokens = TokenStore(database, roles=settings.roles)
        if not serving.oidc.enabled and not any(t.revoked is None for t in tokens.list()):
            typer.secho(
                f"No access tokens yet: create one with `assist token create --role {settings.roles.names[0]}`.",
                fg=typer.colors.YELLOW, err=True,
            )
        database.close()
        sock = bind_socket(serving.host, serving.port)
    except AssistError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    if roles_warning:
        typer.secho(f"Warning: {roles_warning}", fg=typer.colors.YELLOW, err=True)
    # The public /transparency page would show the city file's unfilled placeholders.
    if transparency_warning := start_warning(settings):
        typer.secho(f"Warning: {transparency_warning}", fg=typer.colors.YELLOW, err=True)
    # Port 0 asks the system for a free port: say and record the one it gave.
    serving.port = sock.getsockname()[1]
    if serving.host not in ("127.0.0.1", "localhost", "::1"):
        typer.secho(f"Listening on {serving.host}: put TLS in front of it.", fg=typer.colors.YELLOW, err=True)
    if serving.oidc.enabled:
        _sign_in_notes(serving)

    from serving.workers import run_workers, worker_count  # noqa: PLC0415

    count = worker_count(serving, settings)

    def on_started() -> None:
        record_address(settings.data_dir, serving)
        processes = f" ({count} worker processes)" if count > 1 else ""
        typer.echo(f"Frontline Assist on http://{serving.host}:{serving.port}/{processes}", err=True)

    if count > 1:
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(message)s")
        status = run_workers(sock, settings, serving, count=count, log_level=log_level, on_started=on_started)
        if status:
            raise typer.Exit(code=status)
        return
    server = _server(server_config(create_app(settings, serving), serving, log_level=log_level), on_started)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        # As uvicorn.run does: the startup error is in the log above; the exit status says it failed.
        raise typer.Exit(code=STARTUP_FAILURE)


def _serving_settings(host: str | None, port: int | None, workers: int | None) -> ServingSettings:
    """The service's settings from the environment, with the command line's values over them (exit 2 when invalid)."""
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
    if workers is not None:
        if workers < 1:
            typer.secho(f"Error: --workers must be 1 or more, not {workers}.", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2)
        serving.workers = workers
    return serving


def _server(config: "uvicorn.Config", on_started: Callable[[], None]) -> "uvicorn.Server":
    """uvicorn's server, calling `on_started` once the app has started on the bound socket (never when it fails)."""
    import uvicorn  # noqa: PLC0415 - `assist token create` imports this module and needs no web server

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_started()

    return Server(config)


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, before any model loads; ConfigError says what to change when it cannot be.

    uvicorn binds only after the app's start-up (the models, some seconds), and reports a failure as a traceback.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not 0 <= port <= 65535:  # noqa: PLR2004 - the range of TCP ports
        msg = f"{port} is not a port number: use 1-65535 (--port or ASSIST_SERVE__PORT)."
        raise ConfigError(msg)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        msg = (f"Cannot listen on {where}: the host {host!r} is not known ({exc.strerror}); use an address of this "
               "machine (--host or ASSIST_SERVE__HOST).")
        raise ConfigError(msg) from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait for TIME_WAIT
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = "the port is in use (another `assist serve`?): stop that process or choose another --port"
        elif exc.errno == errno.EACCES:
            why = "ports below 1024 need privileges: choose a port from 1024 up (--port or ASSIST_SERVE__PORT)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            why = "that address is not one of this machine's: choose another --host (or ASSIST_SERVE__HOST)"
        else:
            why = f"{exc.strerror}: choose another --host or --port"
        msg = f"Cannot listen on {where}: {why}."
        raise ConfigError(msg) from None
    return sock


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


def check_store_and_roles(settings: Settings) -> str | None:
    """Stop at start-up when the embedded store does not exist; a warning (or None) naming the roles that read a
    collection the store does not hold: the service answers every other role, and theirs with an error naming it.

    The store is opened only for this check (a shard is one process's). A damaged store, or a Qdrant server that
    cannot be reached, is left to /readyz: the service starts and recovers once it is rebuilt or reachable.
    """
    from assist.backends import make_document_store  # noqa: PLC0415
    from assist.components.edge_store import EdgeDocumentStore  # noqa: PLC0415
    from assist.errors import StoreDamagedError  # noqa: PLC0415
    from assist.pipeline import check_roles  # noqa: PLC0415

    roles = settings.roles
    store = make_document_store(settings)
    if isinstance(store, EdgeDocumentStore):
        if not store.exists():
            msg = (f"No document store at {settings.store_path}: run `assist ingest knowledge` (or your own folder) "
                   "first, or point --store (ASSIST_QDRANT__PATH) at an ingested store.")
            raise StoreNotFoundError(msg)
        try:
            present, missing = check_roles(roles, store)
        except StoreDamagedError as exc:
            # The service still starts: /readyz reports the damage and questions get 503 until it is rebuilt.
            logger.warning("Roles not checked against the store: %s", exc)
            return None
        finally:
            store.close()
        return roles.missing_message(missing, present) if missing else None
    try:
        present, missing = check_roles(roles, store)
    except AssistError:
        raise
    except Exception as exc:  # noqa: BLE001 - a server that cannot be reached is /readyz's to report
        logger.warning("Could not check the roles against the Qdrant server: %s", type(exc).__name__)
        return None
    return roles.missing_message(missing, present) if missing else None


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
