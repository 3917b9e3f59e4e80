"""Backups of the service's database: pg_dump and pg_restore with binaries that fit the server.

`loket backup FILE` writes a custom-format dump of the configured database (DATABASE_URL,
or the embedded server's `loket` database: its unix socket is found as every command
finds it); `loket restore FILE` loads one into a new, empty database, applies the
migrations the backup lacks and runs the retention job (see the README's "Backup and
restore"). The dump holds every table, procrastinate's queue included.

pg_dump refuses a server newer than itself, and pg_restore cannot read an archive
written by a newer pg_dump, so the binaries are picked by version: of those on PATH, in
/usr/lib/postgresql/*/bin and the ones the `pgserver` package bundles (16), the oldest
that is new enough.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from loket.db import to_asyncpg_dsn


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


class ToolFailed(BackupError):
    """pg_dump or pg_restore ran and failed (its own message is on standard error)."""


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int
    version: str


def candidate_dirs() -> list[Path]:
    """Where PostgreSQL client binaries may be, most specific first: PATH, then Debian's
    and Ubuntu's versioned folders, then pgserver's bundled binaries."""
    dirs = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    # Found without importing pgserver, whose import looks for a runtime folder.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    return dirs


_VERSION = re.compile(r"\(PostgreSQL\) ((\d+)\S*)")


def _version_of(path: Path) -> Tool | None:
    try:
        out = subprocess.run(  # noqa: S603 - a PostgreSQL binary found on this machine
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if match is None:
        return None
    return Tool(path=path, major=int(match.group(2)), version=match.group(1))


def installed_tools(name: str, dirs: Iterable[Path] | None = None) -> list[Tool]:
    """Every distinct `name` binary (pg_dump, pg_restore) in `dirs`, in their order."""
    tools: list[Tool] = []
    seen: set[Path] = set()
    for folder in candidate_dirs() if dirs is None else dirs:
        path = folder / name
        if not path.is_file() or not os.access(path, os.X_OK):
            continue
        real = path.resolve()
        # Debian's /usr/bin/pg_dump is a wrapper that picks a version per call; the
        # versioned folders it picks from are candidates themselves.
        if real in seen or real.name == "pg_wrapper":
            continue
        seen.add(real)
        tool = _version_of(path)
        if tool is not None:
            tools.append(tool)
    return tools


def find_tool(name: str, at_least: int, dirs: Iterable[Path] | None = None) -> Tool:
    """The oldest `name` whose major version is `at_least` or newer (ties: first found)."""
    tools = installed_tools(name, dirs)
    fitting = [t for t in tools if t.major >= at_least]
    if not fitting:
        found = ", ".join(f"{t.path} ({t.version})" for t in tools) or "none"
        raise BackupError(
            f"no {name} of PostgreSQL {at_least} or newer (found: {found}); install the "
            f"PostgreSQL {at_least} client (Debian: apt-get install postgresql-client-{at_least})"
        )
    return min(fitting, key=lambda t: t.major)


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """The database URL as libpq takes it (postgresql://, without Tortoise's pool options)
    and without its password, which goes in the environment (PGPASSWORD) instead of a
    command line that every local user can read."""
    parts = urlsplit(to_asyncpg_dsn(url))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    netloc = f"{user}@{hostport}" if at and user else hostport
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = unquote(password)
    return urlunsplit(parts._replace(netloc=netloc)), env


def database_name(url: str) -> str:
    return unquote(urlsplit(to_asyncpg_dsn(url)).path.lstrip("/"))


async def server_major(url: str) -> int:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return conn.get_server_version().major
    finally:
        await conn.close()


async def _new_database(url: str) -> int:
    """Create the database at `url` when missing and make sure it holds no relation
    outside PostgreSQL's own schemas; returns the server's major version."""
    from loket.db import ensure_database

    await ensure_database(url)
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        relations = await conn.fetchval(
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg_toast%'"""
        )
        if relations:
            raise BackupError(
                f"database {database_name(url)!r} is not empty: restore into a new database"
            )
        return conn.get_server_version().major
    finally:
        await conn.close()


@dataclass(frozen=True)
class ArchiveHeader:
    """What a custom-format archive says about itself before its table of contents."""

    created: datetime.datetime  # the dumping machine's local time
    database: str
    server_version: str
    dump_version: str

    @property
    def dump_major(self) -> int:
        # read_header checked that the version starts with digits ("16.2", "17beta1")
        return int(re.sub(r"\D.*", "", self.dump_version))


HEADER_BYTES = 4096


def read_header(head: bytes) -> ArchiveHeader:
    """Parse the header of a custom-format archive (PostgreSQL's pg_backup_archiver.c,
    WriteHead: archive versions 1.12 to 1.16, written by pg_dump 9.0 to 17)."""
    if head[:5] != b"PGDMP" or len(head) < 11 or head[10] != 1:  # 1: archCustom
        raise BackupError("not a pg_dump archive in custom format (pg_dump --format=custom)")
    vmaj, vmin, int_size = head[5], head[6], head[8]
    pos = 11

    def read_int() -> int:
        nonlocal pos
        sign = head[pos]
        value = int.from_bytes(head[pos + 1 : pos + 1 + int_size], "little")
        pos += 1 + int_size
        return -value if sign else value

    def read_str() -> str:
        nonlocal pos
        length = read_int()
        if length < 0:
            return ""
        text = head[pos : pos + length].decode("utf-8", "replace")
        pos += length
        return text

    try:
        if (vmaj, vmin) >= (1, 15):
            pos += 1  # compression algorithm, one byte
        else:
            read_int()  # compression level
        sec, minute, hour, mday, mon, year, _isdst = (read_int() for _ in range(7))
        created = datetime.datetime(year + 1900, mon + 1, mday, hour, minute, min(sec, 59))
        database = read_str()
        server_version = read_str()
        dump_version = read_str()
    except (IndexError, ValueError) as e:
        raise BackupError("the archive's header is damaged or cut short") from e
    if not re.match(r"\d+", dump_version):
        raise BackupError("the archive's header is damaged (no pg_dump version)")
    return ArchiveHeader(created, database, server_version, dump_version)


def _read_head(stream: IO[bytes]) -> bytes:
    head = b""
    while len(head) < HEADER_BYTES:
        chunk = stream.read(HEADER_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _run(
    tool: Tool, args: list[str], env: dict[str, str], feed: tuple[bytes, IO[bytes]] | None = None
) -> None:
    """Run pg_dump or pg_restore (a binary found by `find_tool`, arguments built here);
    `feed`: bytes already read from a stream, then the rest of it, on its standard input."""
    process = subprocess.Popen(  # noqa: S603 - a PostgreSQL binary, our own arguments
        [str(tool.path), *args], env=env, stdin=None if feed is None else subprocess.PIPE
    )
    if feed is not None and process.stdin is not None:
        try:
            process.stdin.write(feed[0])
            shutil.copyfileobj(feed[1], process.stdin, 1 << 20)
            process.stdin.close()
        except BrokenPipeError:
            pass  # it stopped early; its exit status and message say why
    if process.wait() != 0:
        raise ToolFailed(f"{tool.path.name} failed (exit status {process.returncode})")


def dump(url: str, target: str) -> tuple[Tool, int]:
    """Write a custom-format dump of the database at `url` to the file `target` ("-":
    standard output), readable by its owner only. Returns the pg_dump used and the size."""
    tool = find_tool("pg_dump", asyncio.run(server_major(url)))
    dsn, env = libpq_target(url)
    args = ["--format=custom", f"--dbname={dsn}"]
    if target == "-":
        _run(tool, args, env)
        return tool, 0
    path = Path(target)
    if path.exists():
        raise BackupError(f"{path} exists; choose a new file name")
    # Created before pg_dump opens it, so the dump is never readable by others; renamed
    # when complete, so a file under the final name is a whole dump.
    partial = path.with_name(f".{path.name}.partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    except OSError as e:
        raise BackupError(f"cannot write {path}: {e.strerror}") from e
    try:
        _run(tool, [*args, f"--file={partial}"], env)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return tool, path.stat().st_size


def restore(url: str, source: str) -> tuple[Tool, ArchiveHeader]:
    """Load the archive `source` (a file, or "-": standard input) into the database at
    `url`, which is created when missing and must hold nothing yet. One transaction:
    a restore that fails leaves the database empty."""
    if source == "-":
        head = _read_head(sys.stdin.buffer)
    else:
        try:
            with Path(source).open("rb") as file:
                head = _read_head(file)
        except OSError as e:
            raise BackupError(f"cannot read {source}: {e.strerror}") from e
    header = read_header(head)
    major = asyncio.run(_new_database(url))
    tool = find_tool("pg_restore", max(header.dump_major, major))
    dsn, env = libpq_target(url)
    args = ["--no-owner", "--single-transaction", f"--dbname={dsn}"]
    if source == "-":
        _run(tool, args, env, feed=(head, sys.stdin.buffer))
    else:
        _run(tool, [*args, source], env)
    return tool, header
