"""The processes under test: `loket serve` servers and job workers, started as production
starts them (bench/run.py's helpers), their memory, and which of them owns a socket."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from bench import run as bench_run
from bench.run import Server, free_port, rss_mib, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent
LOKET = str(Path(sys.executable).parent / "loket")

__all__ = ["Server", "kill", "rss_mib", "socket_owner", "start_server", "start_worker", "stop"]


async def start_server(name: str, env: dict[str, str], logs: Path) -> Server:
    """`loket serve` on a free port of 127.0.0.1, ready (its /readyz answers 200)."""
    port = free_port()
    server = await bench_run.start(
        name, [LOKET, "serve", "--host", "127.0.0.1", "--port", str(port)], env, ROOT, logs, port
    )
    await wait_ready(server, bench_run._ready_probe)
    return server


# The job schedules of a harness worker: only the notifications, every second (a sixth
# cron field is seconds), so the load's offers are sent while it runs.
WORKER_SCHEDULES = {
    "LOKET_JOB_SCHEDULE_EMERGENCY_LIST": "off",
    "LOKET_JOB_SCHEDULE_RETENTION": "off",
    "LOKET_JOB_SCHEDULE_STATISTICS": "off",
    "LOKET_JOB_SCHEDULE_DEADLINE_REMINDERS": "off",
    "LOKET_JOB_SCHEDULE_HOUSEKEEPING": "off",
    "LOKET_JOB_SCHEDULE_EXPORTS": "off",
    "LOKET_JOB_SCHEDULE_NOTIFICATIONS": "* * * * * *",
}


async def start_worker(name: str, env: dict[str, str], logs: Path) -> Server:
    """A job worker (`reliability.worker`: `loket worker` with a shorter mail claim) with
    WORKER_SCHEDULES; `env` names the database and the SMTP relay."""
    return await bench_run.start(
        name,
        [sys.executable, "-m", "reliability.worker"],
        {**env, **WORKER_SCHEDULES},
        ROOT,
        logs,
        0,
    )


async def kill(process: Server) -> None:
    """SIGKILL, no goodbye: no rollback, no unlock, no release of claims by the process."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    await process.process.wait()


def socket_owner(local_port: int, pids: list[int]) -> int | None:
    """The process among `pids` (and their children) with a TCP socket bound to
    127.0.0.1:`local_port`: /proc/net/tcp gives the socket's inode, /proc/PID/fd the
    process holding it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                    inodes.add(f"socket:[{fields[9]}]")
    for root in pids:
        for pid in bench_run.tree_pids(root):
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        if os.readlink(fd) in inodes:
                            return root
    return None
