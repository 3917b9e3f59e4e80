"""Fixed-rate load on two `loket serve` processes for ten minutes (issue 9): the error
rate, p50/p99 per operation and in total, and each server's memory (RSS) at the start,
middle and end; then every acknowledged write is checked against the database.

    .venv/bin/python -m reliability.load [--seconds 600] [--rate 40] [--servers 2]
        [--pool 10] [--scale issue] [--warmup 20] [--max-error-rate 0.001]
        [--max-rss-growth 16] [--results DIR]

Everything runs on a private PostgreSQL cluster (reliability.cluster) loaded with
bench/data.py's generator at `--scale` plus accounts, a counter and last-minute places
(reliability.data): the shared server is not used. The mix is reliability.traffic's
(dashboards, inboxes and answers, counters, public search). `--warmup` seconds of the
same load go first and are not measured (caches and pools fill). Exit status 0 only if
every check passes: error rate at most `--max-error-rate`, no 5xx other than 503, no
traceback in any response or uncaught exception in the logs, RSS growth over the second
half of the run at most `--max-rss-growth` MiB per server, every acknowledged write in
the database, no double enrolment, no location over capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import httpx

from loket.db import to_asyncpg_dsn
from reliability import checks, common, processes
from reliability.checks import Check
from reliability.traffic import (
    Ledger,
    Mix,
    Outcome,
    Recorder,
    Tokens,
    drive,
    rss_report,
    summarise,
    table,
    watch_rss,
    write_results,
)


async def main(args: argparse.Namespace) -> bool:
    async with common.running(args, "load") as setup:
        mix = Mix(setup.actors, seed=args.seed)
        tokens = Tokens(ttl_seconds=int(args.warmup + args.seconds) + 3600)
        await common.preflight(setup, mix, tokens)
        ledger = Ledger(setup.results / "ledger.jsonl")
        recorder = Recorder()
        bad: list[tuple[Outcome, str]] = []
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=64)
        clients = [
            httpx.AsyncClient(base_url=s.url, timeout=30, limits=limits) for s in setup.servers
        ]
        try:
            if args.warmup > 0:
                print(f"warm-up: {args.warmup:g} s at {args.rate:g} req/s", flush=True)
                await drive(
                    clients, mix, tokens, rate=args.rate, seconds=args.warmup,
                    started=time.monotonic(), recorder=Recorder(), ledger=ledger,
                )  # fmt: skip
            print(
                f"load: {args.seconds:g} s at {args.rate:g} req/s over "
                f"{len(setup.servers)} servers",
                flush=True,
            )
            started = time.monotonic()
            stop = asyncio.Event()
            rss = asyncio.create_task(
                watch_rss([s.pid for s in setup.servers], recorder, started, stop)
            )
            ticker = asyncio.create_task(
                progress(recorder, setup.servers, started, stop, max(10.0, args.seconds / 10))
            )
            await drive(
                clients, mix, tokens, rate=args.rate, seconds=args.seconds, started=started,
                recorder=recorder, ledger=ledger,
                on_bad=lambda o, text: bad.append((o, text[:500])),
            )  # fmt: skip
            elapsed = time.monotonic() - started
            stop.set()
            await rss
            await ticker
        finally:
            for client in clients:
                await client.aclose()
            ledger.close()

        outcomes = recorder.outcomes
        total = summarise(outcomes)
        lags = sorted(o.lag for o in outcomes)
        print()
        print(
            table(
                outcomes,
                f"{len(outcomes)} requests in {elapsed:.0f} s ({len(outcomes) / elapsed:.1f} "
                f"req/s, asked {args.rate:g}) over {len(setup.servers)} servers, scale "
                f"{args.scale}; latency from the scheduled send, successful requests only",
            )
        )
        print(
            f"  client lag p50 {1000 * lags[len(lags) // 2]:.1f} ms, "
            f"p99 {1000 * lags[int(0.99 * (len(lags) - 1))]:.1f} ms (how late requests left)"
        )
        rss_lines, growth = rss_report(recorder, [s.name for s in setup.servers])
        print("\nmemory")
        print("\n".join(rss_lines))
        for o, text in bad[:10]:
            print(f"  failed: {o.op} server {o.server} at {o.at:.1f} s: {o.code} {text[:200]}")

        server_errors = [o for o in outcomes if o.status >= 500 and o.status != 503]
        results: list[Check] = [
            Check(
                "error rate",
                total.error_rate <= args.max_error_rate,
                f"{100 * total.error_rate:.3f} % ({total.failed} of {total.requests}; "
                f"at most {100 * args.max_error_rate:g} %)",
            ),
            Check(
                "no 5xx but 503, no traceback in a response",
                not server_errors and not any(o.traceback for o in outcomes),
                f"{len(server_errors)} 5xx, {sum(o.traceback for o in outcomes)} tracebacks",
            ),
            Check(
                "no RSS growth over the second half",
                bool(growth) and all(g <= args.max_rss_growth for g in growth.values()),
                ", ".join(f"{k} {v:+.1f} MiB" for k, v in growth.items())
                + f" (at most {args.max_rss_growth:g} MiB)",
            ),
        ]
        conn = await asyncpg.connect(to_asyncpg_dsn(setup.actors.url))
        try:
            results += await checks.ledger(conn, ledger.entries)
            results += await checks.invariants(conn)
        finally:
            await conn.close()
        log_check, _ = common.scan_logs(setup)
        results.append(log_check)
        ok = common.report_checks(results)
        extra: dict[str, Any] = {
            "kind": "load",
            "args": vars(args),
            "elapsed": elapsed,
            "data_seconds": setup.load_seconds,
            "counts": setup.actors.counts,
            "checks": [c.__dict__ for c in results],
        }
        write_results(setup.results / "results.json", recorder, extra)
        print(f"results: {setup.results}/results.json, ledger: {setup.results}/ledger.jsonl")
        return ok


async def progress(
    recorder: Recorder,
    servers: list[processes.Server],
    started: float,
    stop: asyncio.Event,
    every: float,
) -> None:
    """A line now and every `every` seconds: requests, failures and latency since the last
    line, and each server's RSS."""
    seen = 0
    while True:
        now = time.monotonic() - started
        window = recorder.outcomes[seen:]
        seen += len(window)
        s = summarise(window)
        rss = ", ".join(f"{p.name} {processes.rss_mib(p.pid):.1f} MiB" for p in servers)
        stamp = "[   end]" if stop.is_set() else f"[{now:6.0f} s]"
        print(
            f"{stamp} {s.requests} requests, {s.failed} failed, p50 {s.p50_ms:.1f} ms, "
            f"p99 {s.p99_ms:.1f} ms since the last line; RSS {rss}",
            flush=True,
        )
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, seconds=600, rate=40)
    parser.add_argument("--warmup", type=float, default=20, help="unmeasured seconds first")
    parser.add_argument("--max-error-rate", type=float, default=0.001)
    parser.add_argument("--max-rss-growth", type=float, default=16.0, help="MiB per server")
    return parser.parse_args(argv)


if __name__ == "__main__":
    common.run(main(parse_args()))
