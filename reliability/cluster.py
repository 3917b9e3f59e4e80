"""A private PostgreSQL 16 cluster (the binaries bundled with `pgserver`) on a free TCP port
of 127.0.0.1, in a temporary folder outside the repository, that may be restarted at will:
the machine's shared PostgreSQL is never touched.

    with PrivateCluster.started() as cluster:
        url = cluster.url("loket")       # postgresql://postgres@127.0.0.1:<port>/loket
        cluster.restart()                # pg_ctl restart -m fast
        cluster.stop(); cluster.start()  # an outage of any length

As root (PostgreSQL refuses to run as root) the server runs as `nobody`; the data folder
is handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _bundled_bin() -> Path:
    """pgserver's bin folder, found without importing pgserver (its import warns when
    XDG_RUNTIME_DIR is unset, and starts nothing we need)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package is missing from this environment")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


BIN = _bundled_bin()
RUN_AS = "nobody"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateCluster:
    """One initdb'd data folder and the postmaster serving it (see the module doc)."""

    def __init__(self, root: Path, port: int, max_connections: int = 200) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = port
        self.max_connections = max_connections
        self._user: str | None = RUN_AS if os.geteuid() == 0 else None

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    @contextlib.contextmanager
    def started(cls, max_connections: int = 200) -> Iterator[PrivateCluster]:
        """A fresh cluster, started; stopped and deleted on exit."""
        root = Path(tempfile.mkdtemp(prefix="loket-reliability-pg-"))
        cluster = cls(root, free_port(), max_connections)
        try:
            cluster.init()
            cluster.start()
            yield cluster
        finally:
            cluster.stop(missing_ok=True)
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, *argv: str, timeout: float = 60) -> str:
        done = subprocess.run(  # noqa: S603 - the bundled PostgreSQL programs
            [str(BIN / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self._user,
            cwd="/",
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-1500:]}\n"
                f"{self.log_tail()}"
            )
        return done.stdout

    def init(self) -> None:
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def _options(self) -> str:
        # A socket folder of our own (the default /var/run/postgresql may not exist or be
        # the shared server's); fsync stays on: the point is that acknowledged commits
        # survive a restart.
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} "
            f"-c max_connections={self.max_connections} -c shared_buffers=128MB"
        )

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, missing_ok: bool = False) -> None:
        """`pg_ctl stop -m fast`: sessions are ended, the server shuts down cleanly."""
        if missing_ok and not (self.data / "postmaster.pid").exists():
            return
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> float:
        """`pg_ctl restart -m fast`; returns the seconds it took."""
        started = time.monotonic()
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
            "-m", "fast", "-w", "-t", "60", "restart",
        )  # fmt: skip
        return time.monotonic() - started

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""


if __name__ == "__main__":
    # Smoke check: start, query, restart, query, stop.
    import asyncio

    import asyncpg

    async def query(url: str) -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT 1"))
        finally:
            await conn.close()

    with PrivateCluster.started() as c:
        print("started on port", c.port, "->", asyncio.run(query(c.url())))
        print(f"restarted in {c.restart():.2f} s ->", asyncio.run(query(c.url())))
