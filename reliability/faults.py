"""Faults under load (issue 9): PostgreSQL stopped and started again in the middle of a
fixed-rate load on two servers with two job workers sending mail to a real SMTP relay; a
worker killed with SIGKILL in the middle of a batch of mail; concurrent answers on two
servers at once. Then: nothing acknowledged is lost, nothing is sent or enrolled twice.

    .venv/bin/python -m reliability.faults [--seconds 180] [--rate 20] [--outage 5]
        [--races 10] [--max-recovery 10] [--scale issue] [--results DIR]

Timeline (fractions of `--seconds`; the load runs throughout):

- 0.15: race round 1 (half of `--races` of each kind, below);
- 0.50: PostgreSQL (a private cluster, reliability.cluster) is stopped with
  `pg_ctl stop -m fast`, left down `--outage` seconds and started again;
- 0.60: both job workers must still be alive (procrastinate stops a worker whose LISTEN
  connection fails; `loket worker` starts it again);
- 0.65: 30 messages are queued at once (as a job's batch queues them) and the SMTP relay
  holds the MAIL command after the next 5: the worker sending is the one whose connection
  it is; it gets SIGKILL while the rest of its claim is taken and the messages before are
  marked SENT; a new worker replaces it. The claim runs out (the harness's workers claim
  for 38 s instead of 600: reliability.worker) and another worker sends the rest;
- 0.85: race round 2;
- after the load: the outbox is drained (at most the claim + 60 s), then the checks.

Races, each sent to both servers at the same moment: "same acceptance" (one parent
accepts one offer twice), "last place" (two families accept the one place of a location
of capacity 1), "same offer" (a provider offers the same application twice). Exactly
one acceptance may win; the offer is made once and the family hears of it once.

Checks: /readyz 503 on every server while PostgreSQL is down and 200 before and after;
failures only while PostgreSQL is down or within `--max-recovery` seconds after it is
back; every failure a coded error (503 SERVICE_UNAVAILABLE or a GraphQL error with a
code), no other 5xx, no traceback, no dropped connection, no uncaught exception in the
logs; the ledger (every acknowledged write in the database); no child or request
enrolled twice, no location over capacity; every mail sent once (by Message-ID at the
relay), every SENT row received, nothing left due, and the killed worker's claimed
messages all sent once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx

from jobs import outbox
from jobs.notifications import message_id
from loket.db import to_asyncpg_dsn
from reliability import checks, common, data, processes
from reliability.checks import Check
from reliability.relay import RunningRelay
from reliability.traffic import (
    Call,
    Ledger,
    Mix,
    Outcome,
    Recorder,
    Tokens,
    drive,
    send,
    table,
    watch_ready,
    write_results,
)

SMTP_TIMEOUT_SECONDS = 2
CLAIM_SECONDS = 10
# The claim a harness worker takes (jobs.notifications.send_due: at least 4 x the SMTP
# timeout + 30 s).
LEASE_SECONDS = max(CLAIM_SECONDS, 4 * SMTP_TIMEOUT_SECONDS + 30)


def worker_env(url: str, smtp_port: int) -> dict[str, str]:
    return {
        **data.server_env(url, 4),
        "LOKET_SMTP_HOST": "127.0.0.1",
        "LOKET_SMTP_PORT": str(smtp_port),
        "LOKET_SMTP_TLS": "none",
        "LOKET_SMTP_TIMEOUT_SECONDS": str(SMTP_TIMEOUT_SECONDS),
        "RELIABILITY_CLAIM_SECONDS": str(CLAIM_SECONDS),
    }


# --------------------------------------------------------------------------- races


async def race_round(
    clients: list[httpx.AsyncClient],
    actors: data.Actors,
    tokens: Tokens,
    started: float,
    part: slice,
) -> list[dict[str, Any]]:
    """The races of `part`, each sent to both servers at once; their raw outcomes."""
    results: list[dict[str, Any]] = []

    async def both(kind: str, key: str, calls: list[Call]) -> None:
        now = time.monotonic()
        outcomes = await asyncio.gather(
            *(send(clients[i % len(clients)], i, c, tokens, now, started)
              for i, c in enumerate(calls))
        )  # fmt: skip
        results.append({"kind": kind, "key": key, "codes": [o.code for o, _ in outcomes]})

    jobs = []
    for offer in actors.race_same_acceptance[part]:
        jobs.append(both("same acceptance", str(offer.request), [Mix.accept(offer)] * 2))
    for place in actors.race_last_place[part]:
        jobs.append(both("last place", str(place.location), [Mix.accept(o) for o in place.offers]))
    for answer in actors.race_same_offer[part]:
        call = Mix._answer(answer, "offer")
        jobs.append(both("same offer", str(answer.application), [call, call]))
    await asyncio.gather(*jobs)
    return results


async def race_checks(conn: asyncpg.Connection, races: list[dict[str, Any]]) -> list[Check]:
    out = []
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for race in races:
        by_kind.setdefault(race["kind"], []).append(race)
    for kind, runs in sorted(by_kind.items()):
        bad = []
        for race in runs:
            wins = sum(code == "" for code in race["codes"])
            if kind == "same acceptance":
                n = await conn.fetchval(
                    "SELECT count(*) FROM enrolment WHERE request_id = $1::uuid", race["key"]
                )
                if wins != 1 or n != 1:
                    bad.append((race, n))
            elif kind == "last place":
                n = await conn.fetchval(
                    "SELECT count(*) FROM enrolment WHERE location_id = $1::uuid", race["key"]
                )
                if wins != 1 or n != 1:
                    bad.append((race, n))
            else:
                n = await conn.fetchval(
                    """SELECT count(*) FROM outbox WHERE kind = 'offer'
                       AND dedup_key LIKE 'offer:' || $1 || ':%'""",
                    race["key"],
                )
                status = await conn.fetchval(
                    "SELECT status FROM application WHERE id = $1::uuid", race["key"]
                )
                if wins < 1 or status != "OFFERED" or n != 1:
                    bad.append((race, n))
        codes = Counter(c for race in runs for c in race["codes"])
        what = {
            "same acceptance": "exactly one acceptance wins, one enrolment",
            "last place": "exactly one family gets the place",
            "same offer": "the family is told once",
        }[kind]
        out.append(
            Check(
                f"race '{kind}' on two servers: {what}",
                not bad,
                f"{len(runs) - len(bad)} of {len(runs)}; outcomes {dict(codes)}"
                + (f"; BAD {bad[:3]}" if bad else ""),
            )
        )
    return out


# --------------------------------------------------------------------------- the worker kill


async def kill_sending_worker(
    smtp: RunningRelay,
    workers: list[processes.Server],
    url: str,
    recorder: Recorder,
    started: float,
) -> dict[str, Any]:
    """Hold the next MAIL at the relay, SIGKILL the worker whose connection it is (see
    the module doc); its claimed messages are returned."""
    relay = smtp.handler
    async with connected(url) as conn:
        queued = await queue_batch(conn, BATCH)
    relay.hold_next_mail(after=SENT_BEFORE_KILL)
    recorder.event(
        started,
        f"{queued} messages queued at once; the relay holds the MAIL command after the next "
        f"{SENT_BEFORE_KILL}",
    )
    held = await asyncio.to_thread(relay.held.wait, 60)
    if not held or relay.held_peer is None:
        relay.release.set()
        return {"killed": None, "why": "no worker sent mail within 60 s"}
    t_held = time.monotonic()
    pid = processes.socket_owner(relay.held_peer[1], [w.pid for w in workers])
    victim = next((w for w in workers if w.pid == pid), None)
    if victim is None:
        relay.release.set()
        return {"killed": None, "why": f"no worker owns port {relay.held_peer[1]}"}
    await processes.kill(victim)
    to_kill = time.monotonic() - t_held
    relay.release.set()
    async with connected(url) as conn:
        claimed = [
            r["id"]
            for r in await conn.fetch(
                """SELECT id FROM outbox WHERE status = 'PENDING' AND claimed_until > now()
                   ORDER BY id"""
            )
        ]
        sent = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'SENT'")
    recorder.event(
        started,
        f"SIGKILL {victim.name} (pid {victim.pid}) {1000 * to_kill:.0f} ms after it reached "
        f"MAIL; {len(claimed)} messages still claimed by it, {sent} SENT so far",
    )
    return {
        "killed": victim.name,
        "pid": victim.pid,
        "ms_to_kill": 1000 * to_kill,
        "claimed": claimed,
        "sent_before": sent,
    }


# The batch queued before the kill (a job's batch of messages, e.g. the emergency list's)
# and how many of them the sender gets through before it is killed.
BATCH = 30
SENT_BEFORE_KILL = 5


async def queue_batch(conn: asyncpg.Connection, n: int) -> int:
    """`n` notifications written at once, as a job's batch writes them (jobs.outbox),
    to parents with an account: a claim of many messages for the worker to be killed in."""
    async with conn.transaction():
        return await outbox.notify_each(
            conn,
            """SELECT user_id, 'reliability-batch:' || user_id AS key,
                      jsonb_build_object('organisation_name', 'OCMW Bench') AS params
               FROM (SELECT user_id FROM parent WHERE user_id IS NOT NULL
                     ORDER BY md5(user_id::text) LIMIT $1) x""",
            n,
            kind=outbox.Kind.MANDATE_GRANTED,
            recipients="SELECT {user}::uuid AS user_id",
            user="user_id",
        )


async def drain(url: str, deadline: float) -> int:
    """Wait until no message is PENDING (due or claimed), or `deadline` (monotonic)."""
    async with connected(url) as conn:
        while True:
            left = int(await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'PENDING'"))
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(1)


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the harness's own (opened when needed: PostgreSQL restarts)."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        yield conn
    finally:
        await conn.close()


# --------------------------------------------------------------------------- the outage


def _coded(o: Outcome) -> bool:
    """A clean failure: 503 SERVICE_UNAVAILABLE, or 200 with GraphQL errors that all carry
    a code; no traceback in the body."""
    if o.traceback:
        return False
    if o.status == 503:
        return o.code == "http 503 SERVICE_UNAVAILABLE"
    return (
        o.status == 200 and not o.code.startswith(("http", "transport")) and "UNCODED" not in o.code
    )


def outage_checks(
    recorder: Recorder,
    names: list[str],
    down: float,
    up: float,
    max_recovery: float,
    starting: float | None = None,
) -> tuple[list[Check], list[str]]:
    """/readyz and the requests around the outage [`down`, `up`] (seconds since start);
    /readyz must say 503 from `down` until `starting` (PostgreSQL asked to start again)."""
    starting = up if starting is None else starting
    lines, result = [], []
    ready_ok = True
    for server, name in enumerate(names):
        samples = [(at, st) for at, s, st in recorder.ready if s == server]
        during = Counter(st for at, st in samples if down + 0.3 < at < starting)
        before = Counter(st for at, st in samples if at < down - 1)
        first_ok = next((at for at, st in samples if at >= up and st == 200), None)
        after = Counter(st for at, st in samples if first_ok is not None and at > first_ok)
        recovery = None if first_ok is None else first_ok - up
        lines.append(
            f"  {name} /readyz: before {dict(before)}, while down {dict(during)}, "
            f"after {dict(after)}; 200 again {recovery if recovery is None else round(recovery, 2)}"
            " s after PostgreSQL was back"
        )
        ready_ok = ready_ok and (
            set(before) == {200}
            and bool(during)
            and set(during) <= {503}
            and recovery is not None
            and recovery <= max_recovery
            and set(after) == {200}
        )
    result.append(Check("/readyz: 200, then 503 while PostgreSQL is down, 200 again", ready_ok,
                        "; ".join(x.strip() for x in lines)))  # fmt: skip

    outcomes = recorder.outcomes
    failed = [o for o in outcomes if o.failed]
    outside = [o for o in failed if not (down - 1 <= o.at <= up + max_recovery)]
    last = max((o.at + o.latency for o in failed if o.at >= down - 1), default=None)
    ok_after = next(
        (o.at + o.latency for o in sorted(outcomes, key=lambda o: o.at)
         if o.at >= up and not o.failed),
        None,
    )  # fmt: skip
    result.append(
        Check(
            f"failures only while PostgreSQL is down or within {max_recovery:g} s after",
            not outside,
            f"{len(failed)} failed requests, {len(outside)} outside the window; the last "
            f"failure ended {'-' if last is None else f'{last - up:+.1f}'} s after PostgreSQL "
            f"was back; first success {'-' if ok_after is None else f'{ok_after - up:+.1f}'} s"
            + (f"; OUTSIDE {[(o.op, round(o.at, 1), o.code) for o in outside[:5]]}"
               if outside else ""),
        )
    )  # fmt: skip
    unclean = [o for o in failed if not _coded(o)]
    codes = Counter(o.code for o in failed)
    result.append(
        Check(
            "every failure is a coded error (503 SERVICE_UNAVAILABLE or a coded GraphQL "
            "error): no other 5xx, no traceback, no dropped connection",
            not unclean,
            f"failures by code {dict(codes)}"
            + (f"; UNCLEAN {[(o.op, round(o.at, 1), o.status, o.code) for o in unclean[:5]]}"
               if unclean else ""),
        )
    )  # fmt: skip
    return result, lines


# --------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> bool:
    half = max(1, args.races // 2)
    async with common.running(args, "faults", races=2 * half) as setup:
        actors = setup.actors
        mix = Mix(actors, seed=args.seed)
        tokens = Tokens(ttl_seconds=int(args.seconds) + 3600)
        await common.preflight(setup, mix, tokens)
        with RunningRelay() as smtp:
            env = worker_env(actors.url, smtp.port)
            workers = [
                await processes.start_worker(f"worker-{n}", env, setup.results) for n in (1, 2)
            ]
            print(f"workers: {', '.join(f'{w.name} pid {w.pid}' for w in workers)}; SMTP relay "
                  f"on 127.0.0.1:{smtp.port}", flush=True)  # fmt: skip
            ledger = Ledger(setup.results / "ledger.jsonl")
            recorder = Recorder()
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=64)
            clients = [
                httpx.AsyncClient(base_url=s.url, timeout=30, limits=limits) for s in setup.servers
            ]
            bad: list[tuple[Outcome, str]] = []
            races: list[dict[str, Any]] = []
            kill: dict[str, Any] = {}
            times: dict[str, float] = {}
            survivors: list[str] = []
            stop = asyncio.Event()
            started = time.monotonic()
            S = args.seconds

            async def at(fraction: float) -> None:
                await asyncio.sleep(max(0.0, started + fraction * S - time.monotonic()))

            async def timeline() -> None:
                await at(0.15)
                recorder.event(started, "race round 1")
                races.extend(await race_round(clients, actors, tokens, started, slice(0, half)))
                await at(0.5)
                recorder.event(started, "PostgreSQL: pg_ctl stop -m fast")
                await asyncio.to_thread(setup.cluster.stop)
                times["down"] = time.monotonic() - started
                recorder.event(started, f"PostgreSQL is down; starting it in {args.outage:g} s")
                await asyncio.sleep(args.outage)
                # (PostgreSQL answers before `pg_ctl start` returns: "down" ends here.)
                times["starting"] = time.monotonic() - started
                await asyncio.to_thread(setup.cluster.start)
                times["up"] = time.monotonic() - started
                recorder.event(started, "PostgreSQL is up (pg_ctl start returned)")
                await at(0.6)
                survivors.extend(w.name for w in workers if w.process.returncode is None)
                recorder.event(started, f"job workers alive after the restart: {survivors}")
                await at(0.65)
                kill.update(await kill_sending_worker(smtp, workers, actors.url, recorder, started))
                if kill.get("killed"):
                    workers.append(await processes.start_worker("worker-3", env, setup.results))
                    recorder.event(started, f"worker-3 started (pid {workers[-1].pid})")
                await at(0.85)
                recorder.event(started, "race round 2")
                races.extend(
                    await race_round(clients, actors, tokens, started, slice(half, 2 * half))
                )

            ready = asyncio.create_task(
                watch_ready([s.url for s in setup.servers], recorder, started, stop)
            )
            events = asyncio.create_task(timeline())
            try:
                print(f"load: {S:g} s at {args.rate:g} req/s over {len(setup.servers)} servers",
                      flush=True)  # fmt: skip
                await drive(
                    clients, mix, tokens, rate=args.rate, seconds=S, started=started,
                    recorder=recorder, ledger=ledger,
                    on_bad=lambda o, text: bad.append((o, text[:300])),
                )  # fmt: skip
                await events
                stop.set()
                await ready
                deadline = time.monotonic() + LEASE_SECONDS + 60
                recorder.event(started, "load done; waiting for the outbox to drain")
                left = await drain(actors.url, deadline)
                recorder.event(started, f"outbox: {left} messages left PENDING")
            finally:
                stop.set()
                for client in clients:
                    await client.aclose()
                ledger.close()
                for w in workers:
                    await processes.stop(w)
            received = smtp.handler.message_ids()

        print()
        title = (
            f"{len(recorder.outcomes)} requests at {args.rate:g} req/s over "
            f"{len(setup.servers)} servers (latency of successful requests)"
        )
        print(table(recorder.outcomes, title))
        for o, text in bad[:8]:
            print(f"  e.g. failed: {o.op} server {o.server} at {o.at:.1f} s: {o.status} "
                  f"{o.code} {text[:160]}")  # fmt: skip
        names = [s.name for s in setup.servers]
        results, lines = outage_checks(
            recorder, names, times["down"], times["up"], args.max_recovery, times["starting"]
        )
        print(f"\nPostgreSQL down at {times['down']:.1f} s, up at {times['up']:.1f} s")
        print("\n".join(lines))
        results.append(
            Check(
                "both job workers survive the restart (and send the mail queued meanwhile)",
                len(survivors) == 2,
                f"alive {survivors}",
            )
        )
        async with connected(actors.url) as conn:
            results += await checks.ledger(conn, ledger.entries)
            results += await checks.invariants(conn)
            results += await race_checks(conn, races)
            results += await checks.notifications(conn, received)
            if kill.get("killed"):
                claimed = kill["claimed"]
                ids = [message_id(i) for i in claimed]
                rows = await conn.fetch(
                    "SELECT status, attempts FROM outbox WHERE id = ANY($1::bigint[])", claimed
                )
                once = all(received.get(m) == 1 for m in ids)
                interrupted = await conn.fetchval(
                    """SELECT count(*) FROM job_run WHERE job = 'notifications'
                       AND status = 'FAILED' AND error = 'Interrupted'"""
                )
                results.append(
                    Check(
                        "worker killed mid-batch: its claimed messages were retried and sent once",
                        bool(claimed) and once and all(r["status"] == "SENT" for r in rows),
                        f"{kill['killed']} killed {kill['ms_to_kill']:.0f} ms after reaching "
                        f"MAIL with {len(claimed)} messages claimed; now "
                        f"{dict(Counter((r['status'], r['attempts']) for r in rows))} "
                        f"(status, attempts); its run marked Interrupted: {interrupted}",
                    )
                )
            else:
                results.append(Check("worker killed mid-batch", False, str(kill)))
        log_check, _ = common.scan_logs(setup)
        results.append(log_check)
        ok = common.report_checks(results)
        write_results(
            setup.results / "results.json",
            recorder,
            {
                "kind": "faults",
                "args": vars(args),
                "times": times,
                "kill": kill,
                "races": races,
                "checks": [c.__dict__ for c in results],
            },
        )
        print(f"results: {setup.results}/results.json, ledger: {setup.results}/ledger.jsonl")
        return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_common_arguments(parser, seconds=180, rate=20)
    parser.add_argument("--outage", type=float, default=5, help="seconds PostgreSQL is down")
    parser.add_argument("--races", type=int, default=10, help="races of each kind")
    parser.add_argument(
        "--max-recovery", type=float, default=10, help="seconds to recover after PostgreSQL"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    common.run(main(parse_args()))
