"""Reliability (issue 9), the fast version of `reliability/` (RELIABILITY.md): PostgreSQL
restarted under a fixed-rate load (a private cluster, never the shared server) and a job
worker killed with SIGKILL in the middle of a batch of mail sent to a real SMTP relay.
Real `loket serve` and `loket worker` processes, real JWTs, real TCP."""

from __future__ import annotations

import asyncio
import datetime
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from tortoise.transactions import in_transaction

from jobs import outbox
from jobs.notifications import message_id
from loket.db import fetch, to_asyncpg_dsn
from models.jobs import OutboxMessage
from reliability import checks, data, processes
from reliability.cluster import PrivateCluster
from reliability.relay import RunningRelay
from reliability.traffic import Ledger, Mix, Recorder, Tokens, drive, watch_ready
from tests import factories as f

# --- PostgreSQL restarted under load --------------------------------------------------------

LOAD_SECONDS = 14.0
RATE = 15.0
DOWN_AT = 4.0
OUTAGE_SECONDS = 3.0
# Seconds after PostgreSQL is back within which the service must answer again.
RECOVERY_SECONDS = 5.0


async def _load_data(cluster: PrivateCluster) -> data.Actors:
    """The harness's "tiny" data set, loaded by a process of its own (migrating opens and
    closes Tortoise, which this test session uses for the shared test database)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reliability.data", "--server", cluster.url(), "--scale", "tiny",
        "--providers", "5", "--quiet",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()[-3000:]
    url = out.decode().strip().splitlines()[-1]
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return await data.read_actors(conn, url, providers=5, races=0)
    finally:
        await conn.close()


async def test_postgres_restart_under_load_answers_503_recovers_and_keeps_every_write(
    tmp_path: Path,
) -> None:
    with PrivateCluster.started() as cluster:
        # given: a server and a job worker on a private cluster, a fixed-rate load
        actors = await _load_data(cluster)
        server = await processes.start_server("server", data.server_env(actors.url, 5), tmp_path)
        worker = await processes.start_worker("worker", data.server_env(actors.url, 2), tmp_path)
        recorder, ledger = Recorder(), Ledger(tmp_path / "ledger.jsonl")
        stop = asyncio.Event()
        times: dict[str, float] = {}
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
                started = time.monotonic()

                async def outage() -> None:
                    await asyncio.sleep(DOWN_AT)
                    await asyncio.to_thread(cluster.stop)
                    times["down"] = time.monotonic() - started
                    await asyncio.sleep(OUTAGE_SECONDS)
                    # (PostgreSQL answers before `pg_ctl start` returns: "down" ends here.)
                    times["starting"] = time.monotonic() - started
                    await asyncio.to_thread(cluster.start)
                    times["up"] = time.monotonic() - started
                    times["up_wall"] = time.time()

                watching = asyncio.create_task(
                    watch_ready([server.url], recorder, started, stop, every=0.2)
                )
                fault = asyncio.create_task(outage())

                # when
                await drive(
                    [http], Mix(actors), Tokens(3600), rate=RATE, seconds=LOAD_SECONDS,
                    started=started, recorder=recorder, ledger=ledger,
                )  # fmt: skip
                await fault
                stop.set()
                await watching
            ledger.close()
            conn = await asyncpg.connect(to_asyncpg_dsn(actors.url))
            try:
                job_after_restart = None
                for _ in range(50):  # the worker runs the notifications job every second
                    job_after_restart = await conn.fetchval(
                        """SELECT min(started_at) FROM job_run
                           WHERE status = 'SUCCEEDED' AND started_at > $1""",
                        datetime.datetime.fromtimestamp(times["up_wall"], datetime.UTC),
                    )
                    if job_after_restart is not None:
                        break
                    await asyncio.sleep(0.2)
                ledger_checks = await checks.ledger(conn, ledger.entries)
            finally:
                await conn.close()
            worker_alive = worker.process.returncode is None
        finally:
            await processes.stop(server)
            await processes.stop(worker)
        logs = server.log_path.read_text() + worker.log_path.read_text()

    # then: /readyz 200, 503 while PostgreSQL is down, 200 within seconds after
    down, up = times["down"], times["up"]
    ready = [(at, status) for at, _, status in recorder.ready]
    assert {s for at, s in ready if at < down - 1} == {200}
    assert {s for at, s in ready if down + 0.2 < at < times["starting"]} == {503}
    back = min(at for at, s in ready if at > up and s == 200)
    assert back - up < RECOVERY_SECONDS
    assert {s for at, s in ready if at > back} == {200}
    # failures only around the outage, each one coded: 503 SERVICE_UNAVAILABLE (signed
    # in: the viewer cannot be loaded) or a coded GraphQL error; never an uncoded 500,
    # a traceback or a dropped connection
    failed = [o for o in recorder.outcomes if o.failed]
    assert failed, "the outage failed no request: it did not happen under load"
    assert all(down - 1 <= o.at <= up + RECOVERY_SECONDS for o in failed), failed
    assert {(o.status, o.code) for o in failed} <= {
        (503, "http 503 SERVICE_UNAVAILABLE"),
        (200, "INTERNAL_SERVER_ERROR"),
    }, failed
    assert any(o.status == 503 for o in failed)
    assert not any(o.traceback for o in recorder.outcomes)
    assert any(not o.failed for o in recorder.outcomes if o.at > up + RECOVERY_SECONDS)
    assert "Exception in ASGI application" not in logs
    # every acknowledged write is in the database
    acknowledged = ledger_checks[0]
    assert acknowledged.ok, acknowledged.detail
    assert any(e["outcome"] == "ok" for e in ledger.entries)
    # the job worker outlived the restart and ran its job again
    assert worker_alive, logs[-3000:]
    assert job_after_restart is not None, logs[-3000:]


# --- A worker killed in the middle of a batch of mail ---------------------------------------

MESSAGES = 12
SENT_BEFORE_KILL = 3
SMTP_TIMEOUT_SECONDS = 2
# The claim of a harness worker (reliability.worker): jobs.notifications keeps at least
# 4 x the SMTP timeout + 30 s.
LEASE_SECONDS = 4 * SMTP_TIMEOUT_SECONDS + 30


async def _statuses() -> list[tuple[str, int]]:
    return [
        (r["status"], r["attempts"])
        for r in await OutboxMessage.all().order_by("id").values("status", "attempts")
    ]


async def test_a_worker_killed_mid_batch_sends_each_message_once(
    db: str, database: str, tmp_path: Path
) -> None:
    # given: twelve messages queued at once (one claim), a relay that holds the fourth
    users = [await f.user(None) for _ in range(MESSAGES)]
    async with in_transaction():
        await outbox.notify(
            None,
            "SELECT unnest({users}::uuid[])",
            kind=outbox.Kind.MANDATE_GRANTED,
            key="reliability-kill",
            params={"organisation_name": "OCMW Leuven"},
            users=[u.id for u in users],
        )
    ids = [m.id for m in await OutboxMessage.all().order_by("id")]
    assert len(ids) == MESSAGES
    with RunningRelay() as smtp:
        env = {
            **data.server_env(database, 2),
            "LOKET_SMTP_HOST": "127.0.0.1",
            "LOKET_SMTP_PORT": str(smtp.port),
            "LOKET_SMTP_TIMEOUT_SECONDS": str(SMTP_TIMEOUT_SECONDS),
            "RELIABILITY_CLAIM_SECONDS": "5",
        }
        smtp.handler.hold_next_mail(after=SENT_BEFORE_KILL)
        first = await processes.start_worker("worker-a", env, tmp_path)
        second = None
        try:
            # when: the worker sending is killed while it waits at the fourth MAIL
            held = await asyncio.to_thread(smtp.handler.held.wait, 30)
            assert held, first.log_tail()
            assert smtp.handler.held_peer is not None
            t = time.monotonic()
            owner = processes.socket_owner(smtp.handler.held_peer[1], [first.pid])
            assert owner == first.pid
            await processes.kill(first)
            killed_after = time.monotonic() - t
            smtp.handler.release.set()
            at_kill = await _statuses()
            claimed = await OutboxMessage.filter(
                status="PENDING", claimed_until__gt=datetime.datetime.now(datetime.UTC)
            ).count()
            # ...and another worker takes over
            second = await processes.start_worker("worker-b", env, tmp_path)
            for _ in range(int(LEASE_SECONDS + 20)):
                if await OutboxMessage.filter(status="SENT").count() == MESSAGES:
                    break
                await asyncio.sleep(1)
        finally:
            for w in (first, second):
                if w is not None:
                    await processes.stop(w)
        received = smtp.handler.message_ids()

    # then: three sent before the kill, the rest claimed by the dead sender...
    assert killed_after < SMTP_TIMEOUT_SECONDS  # killed before its SMTP timeout could fire
    assert at_kill == [("SENT", 1)] * SENT_BEFORE_KILL + [("PENDING", 0)] * (
        MESSAGES - SENT_BEFORE_KILL
    )
    assert claimed == MESSAGES - SENT_BEFORE_KILL
    # ...then retried once its claim ran out: every message sent, each exactly once
    assert await _statuses() == [("SENT", 1)] * MESSAGES, second.log_tail() if second else ""
    assert received == dict.fromkeys((message_id(i) for i in ids), 1)
    # the killed run is recorded as interrupted by the run after it
    runs = await fetch("SELECT status, error FROM job_run WHERE job = 'notifications'")
    assert sum((r["status"], r["error"]) == ("FAILED", "Interrupted") for r in runs) == 1
