"""What the load and fault runs share: a private cluster with the data loaded, the
servers, the pre-flight check of the documents, the report and the server-log scan."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reliability import data, processes
from reliability.checks import Check
from reliability.cluster import PrivateCluster
from reliability.data import Actors
from reliability.traffic import Mix, Tokens, classify


@dataclass
class Setup:
    cluster: PrivateCluster
    actors: Actors
    servers: list[processes.Server]
    results: Path
    load_seconds: float


def add_common_arguments(parser: argparse.ArgumentParser, seconds: int, rate: float) -> None:
    parser.add_argument("--seconds", type=float, default=seconds, help="length of the load")
    parser.add_argument("--rate", type=float, default=rate, help="requests per second (all)")
    parser.add_argument("--servers", type=int, default=2, help="`loket serve` processes")
    parser.add_argument("--pool", type=int, default=10, help="database connections per server")
    parser.add_argument("--scale", choices=sorted(data.SCALES), default="issue")
    parser.add_argument("--providers", type=int, default=40, help="locations answering")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="folder for the ledger, results and server logs (default: a new temp folder)",
    )


def results_folder(given: Path | None, kind: str) -> Path:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        return given
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.mkdtemp(prefix=f"loket-reliability-{kind}-{stamp}-"))


@contextlib.asynccontextmanager
async def running(args: argparse.Namespace, kind: str, races: int = 0) -> AsyncIterator[Setup]:
    """A private cluster with the data, and `args.servers` servers on it; all stopped and
    the cluster deleted on exit (the results folder stays)."""
    results = results_folder(args.results, kind)
    print(f"results, ledger and server logs in {results}", flush=True)
    with PrivateCluster.started() as cluster:
        print(f"private PostgreSQL 16 on 127.0.0.1:{cluster.port} ({cluster.root})", flush=True)
        t = time.perf_counter()
        actors = await data.prepare(
            cluster.url(), args.scale, providers=args.providers, races=races
        )
        load_seconds = time.perf_counter() - t
        servers: list[processes.Server] = []
        try:
            for n in range(args.servers):
                name = f"server-{chr(ord('a') + n)}"
                servers.append(
                    await processes.start_server(
                        name, data.server_env(actors.url, args.pool), results
                    )
                )
                print(f"{name}: pid {servers[-1].pid}, {servers[-1].url}", flush=True)
            yield Setup(cluster, actors, servers, results, load_seconds)
        finally:
            for server in servers:
                await processes.stop(server)
            (results / "postgres.log").write_text(cluster.log_tail(2_000_000))


async def preflight(setup: Setup, mix: Mix, tokens: Tokens) -> None:
    """Every read of the mix once on every server: 200 and no error, or stop here."""
    for server in setup.servers:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            for call in mix.samples():
                response = await http.post(
                    "/graphql", json=call.body, headers=tokens.header(call.user)
                )
                code = classify(call, response.status_code, response.text)
                if code:
                    raise SystemExit(f"{server.name} {call.op}: {code}: {response.text[:1500]}")
    print(f"pre-flight: every read of the mix answers on {len(setup.servers)} servers", flush=True)


def scan_logs(setup: Setup) -> tuple[Check, dict[str, int]]:
    """Server logs: uncaught exceptions (uvicorn's "Exception in ASGI application") and
    the lines per level; GraphQL's masked unexpected errors are ERROR lines with an
    errorId."""
    counts: dict[str, int] = {}
    uncaught = 0
    for server in setup.servers:
        with contextlib.suppress(OSError):
            for line in server.log_path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    counts["non-JSON lines"] = counts.get("non-JSON lines", 0) + 1
                    continue
                level = str(record.get("level"))
                counts[level] = counts.get(level, 0) + 1
                if "Exception in ASGI application" in str(record.get("message")):
                    uncaught += 1
    return (
        Check(
            "no uncaught exception in the server logs",
            uncaught == 0,
            f"{uncaught} uncaught; log lines by level {counts}",
        ),
        counts,
    )


def report_checks(checks: list[Check]) -> bool:
    print("\nchecks")
    for check in checks:
        print(check.line())
    ok = all(c.ok for c in checks)
    print("\nALL CHECKS PASSED" if ok else "\nSOME CHECKS FAILED", flush=True)
    return ok


def run(main: Coroutine[Any, Any, bool]) -> None:
    """asyncio.run(main) and exit 0 if it returned True, else 1."""
    raise SystemExit(0 if asyncio.run(main) else 1)
