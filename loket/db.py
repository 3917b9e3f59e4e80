"""Database location (DATABASE_URL or an embedded PostgreSQL), Tortoise config, migrations."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from loket.settings import settings
from models import MODEL_MODULES

log = logging.getLogger("loket.db")

_servers: dict[Path, Any] = {}


def embedded_server_uri(data_dir: Path, database: str) -> str:
    """Start (or join) the bundled PostgreSQL 16 whose data lives in `data_dir`.

    The data folder survives restarts; the server stops when the last process using it
    exits. Returns a libpq URI with the unix socket as host.
    """
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = _servers.get(data_dir)
    if server is None:
        _forget_dead_handles(data_dir)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        _servers[data_dir] = server
    return with_database(server.get_uri(), database)


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died without cleaning up from pgserver's list of users.

    pgserver stops the server when its last user exits, counting users by pid in
    `.handle_pids.json`; a killed process stays listed forever and the server would
    then never stop. (File name and lock are those of the pinned pgserver 0.1.4.)
    """
    from pgserver.postgres_server import PostgresServer

    path = data_dir / ".handle_pids.json"
    with PostgresServer._lock:
        if not path.exists():
            return
        pids = json.loads(path.read_text())
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def with_database(uri: str, database: str) -> str:
    """The same server URL, naming another database."""
    parts = urlsplit(to_asyncpg_dsn(uri))
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


# Pool options of Tortoise's URL (`?maxsize=20`): asyncpg would send them to the server
# as settings, which PostgreSQL refuses.
_POOL_OPTIONS = {"minsize", "maxsize", "max_queries", "max_inactive_connection_lifetime"}


def to_asyncpg_dsn(url: str) -> str:
    """A libpq-style DSN asyncpg accepts, from a postgres://, postgresql:// or asyncpg:// URL
    (Tortoise's pool options left out)."""
    for prefix in ("asyncpg://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
            break
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k not in _POOL_OPTIONS]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))


def to_tortoise_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "asyncpg://" + url.split("://", 1)[1]
    return url


async def ensure_database(url: str) -> None:
    """Create the database named in `url` when it does not exist yet."""
    parts = urlsplit(to_asyncpg_dsn(url))
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    try:
        conn = await asyncpg.connect(to_asyncpg_dsn(url))
    except asyncpg.InvalidCatalogNameError:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await conn.close()
        return
    await conn.close()


def service_database_url() -> str:
    """The service's database: DATABASE_URL, else the embedded server's `loket` database."""
    if settings.database_url:
        return settings.database_url
    return embedded_server_uri(settings.data_dir / "pgdata", "loket")


class NoResetConnection(asyncpg.Connection):
    """A connection of the web server's pool, released without asyncpg's reset query.

    On every release asyncpg's pool sends `SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL` (a round trip; every statement Tortoise runs outside a
    transaction is an acquire and a release of its own). Those statements undo session
    state, and the web server's code leaves none behind: settings change only by
    `SET LOCAL` in a transaction, its advisory locks are transaction-level
    (`pg_advisory_xact_lock`), and it has no LISTEN, no cursor (`DECLARE`) and no
    prepared statement of its own (asyncpg's statement cache survives the reset
    anyway). The session-level advisory lock of a job run is taken on the job pool
    (`jobs.runner.open_pool`), which keeps the reset. A transaction left open is still
    rolled back on release (asyncpg's `Connection._reset` runs either way). Code that
    sets session state on the server's connections (`set_config(..., false)`, `SET`
    without LOCAL, `pg_advisory_lock`, LISTEN) must not be added.
    """

    def get_reset_query(self) -> str:
        return ""


_server_pool = False


def use_server_pool() -> None:
    """From now on `tortoise_config` gives the web server's pool, whose connections are
    released without reset (`NoResetConnection`). Only `loket serve` calls it, after its
    migrations and before creating the app; the command line, the job worker, tests and
    benchmarks keep asyncpg's reset."""
    global _server_pool
    _server_pool = True


def tortoise_config(url: str) -> dict[str, Any]:
    connection: str | dict[str, Any] = to_tortoise_url(url)
    if _server_pool:
        from tortoise.backends.base.config_generator import expand_db_url

        connection = expand_db_url(to_tortoise_url(url))
        connection["credentials"]["connection_class"] = NoResetConnection
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(url: str, target: str | None = None) -> None:
    """Apply the committed migrations (idempotent), or migrate up or down to `target`
    (e.g. "models.0004_parent_journey")."""
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate as run_migrations

    await ensure_database(url)
    await run_migrations(config=tortoise_config(url), target=target)
    await Tortoise.close_connections()


# What PostgreSQL (or the network to it) says when it cannot serve anyone right now: a
# refused or dropped connection, a server shutting down or starting up, no free slot.
# Never a problem of the request itself.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error`, or an exception it was raised from, says the database cannot be
    reached now (see `_UNAVAILABLE`): the service should answer 503, not 500."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


async def fetch(sql: str, *args: Any) -> list[Any]:
    """Run one read statement on the current connection (the transaction's, if any)."""
    from tortoise import connections

    async with connections.get("default").acquire_connection() as conn:
        rows: list[Any] = await conn.fetch(sql, *args)
        return rows


async def execute(sql: str, *args: Any) -> str:
    from tortoise import connections

    async with connections.get("default").acquire_connection() as conn:
        status: str = await conn.execute(sql, *args)
        return status
