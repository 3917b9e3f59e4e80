"""The same inbox query sent as text and as an Apollo persisted query (hash only), against
a real server: `loket serve` (uvicorn, one worker) in a subprocess, a location with 200
synthetic open requests, a provider user's token; a fixed number of concurrent clients
for a fixed time per mode, in interleaved rounds; requests per second and p50/p99
latency side by side.

    .venv/bin/python benchmarks/persisted.py [--seconds 5] [--rounds 3] [--concurrency 16]
        [--requests 200] [--uncached-text]

`--uncached-text` adds a third mode: the text with a comment unique to each request, so
the server's parser and validation caches miss (what every text request would cost
without them). Uses TEST_DATABASE_URL when set, else the embedded test server, database
loket_bench. Client, server and PostgreSQL share this machine: compare the columns, not
the absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tortoise import Tortoise

from benchmarks.common import open_empty_database
from loket import synthetic
from loket.auth import mint_token
from loket.db import (
    fetch,
)
from models.accounts import Role
from tests import factories as f

QUERY = """query Inbox($loc: ID!) { inbox(locationId: $loc, first: 20) {
  edges { node { rank request { id } household { parents { firstName } } } } } }"""
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


async def seed(n: int) -> tuple[uuid.UUID, uuid.UUID]:
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven, capacity=40)
    await synthetic.inbox_dossiers(loc.id, leuven.nis_code, n)
    provider = await f.user(Role.PROVIDER, provider_location=loc)
    await fetch("ANALYZE")
    return provider.id, loc.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_ready(base: str, server: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(600):
            if server.returncode is not None:
                raise SystemExit("the server exited before it was ready")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server was not ready after 60 s")


async def measure(
    http: httpx.AsyncClient, body: Callable[[], dict[str, Any]], seconds: float, concurrency: int
) -> tuple[int, float, list[float]]:
    """(requests done, elapsed seconds, latencies) with `concurrency` clients in a loop."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = await http.post("/graphql", json=body())
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200 or "errors" in response.json():
                raise SystemExit(f"unexpected answer: {response.status_code} {response.text}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - start, latencies


@contextlib.asynccontextmanager
async def serve(url: str) -> AsyncIterator[str]:
    """`loket serve` on a free port against `url`; its log is shown if anything fails."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOKET_GRAPHIQL": "0"}
    with tempfile.TemporaryFile() as log:
        server = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "loket"),
            "serve",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base, server)
            yield base
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            raise
        finally:
            if server.returncode is None:
                server.terminate()
                await server.wait()


async def main(
    seconds: float, rounds: int, concurrency: int, requests: int, uncached: bool
) -> None:
    url = await open_empty_database()
    provider, location = await seed(requests)
    await Tortoise.close_connections()

    variables = {"loc": str(location)}
    counter = itertools.count()
    modes: dict[str, Callable[[], dict[str, Any]]] = {
        "text": lambda: {"query": QUERY, "variables": variables},
        "persisted": lambda: {"extensions": PERSISTED, "variables": variables},
    }
    if uncached:
        modes["text, caches missed"] = lambda: {
            "query": f"# request {next(counter)}\n{QUERY}",
            "variables": variables,
        }
    done = {m: 0 for m in modes}
    elapsed = {m: 0.0 for m in modes}
    latencies: dict[str, list[float]] = {m: [] for m in modes}
    headers = {"Authorization": f"Bearer {mint_token(str(provider))}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        serve(url) as base,
        httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http,
    ):
        # register the persisted query, check the answer, and warm up every mode
        first = await http.post(
            "/graphql", json={"query": QUERY, "variables": variables, "extensions": PERSISTED}
        )
        assert len(first.json()["data"]["inbox"]["edges"]) == 20, first.text
        for body in modes.values():
            await measure(http, body, 1, concurrency)
        names = list(modes)
        for r in range(rounds):
            for mode in names if r % 2 == 0 else names[::-1]:
                n, t, lat = await measure(http, modes[mode], seconds, concurrency)
                done[mode] += n
                elapsed[mode] += t
                latencies[mode].extend(lat)

    print(
        f"inbox page of 20 of {requests} open requests, POST /graphql, one uvicorn worker, "
        f"{concurrency} concurrent clients, {rounds} interleaved rounds of {seconds:g} s per mode"
    )
    width = max(len(m) for m in modes) + 2
    print(f"{'':{width}}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}")
    for mode in modes:
        lat = sorted(latencies[mode])
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rps = done[mode] / elapsed[mode]
        print(f"{mode:{width}}{rps:9.1f}{p50:9.1f}{p99:9.1f}{done[mode]:10d}")
    print(f"query text: {len(QUERY.encode())} bytes per request; persisted: a 64-character hash")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--uncached-text", action="store_true")
    args = parser.parse_args()
    asyncio.run(
        main(args.seconds, args.rounds, args.concurrency, args.requests, args.uncached_text)
    )
