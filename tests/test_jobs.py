"""The job engine: the emergency-list job at its 60-day boundary, one run at a time, one
run per schedule tick with two real workers, a crash mid-batch, and `loket jobs`."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from jobs.runner import run_job
from loket.db import fetch, to_asyncpg_dsn
from loket.settings import DEFAULT_JOB_SCHEDULES
from models.accounts import Role
from models.privacy import Agreement, AgreementKind
from models.requests import Application, CareRequest
from tests import factories as f

D = datetime.date(2027, 3, 1)  # a request's desired start date
BEFORE = D - datetime.timedelta(days=61)
ON_LIST = D - datetime.timedelta(days=60)


async def _listed_request(start: datetime.date = D, **kw: Any) -> Any:
    leuven = await f.municipality("24062", "Leuven")
    h, _ = await f.household(leuven)
    c = await f.child(h, born=datetime.date(2026, 6, 1))
    loc = await f.location(leuven)
    r = await f.care_request(c, loc, start=start)
    await CareRequest.filter(id=r.id).update(
        submitted_at=datetime.datetime(2026, 7, 1, 9, tzinfo=datetime.UTC)
    )
    return r, loc, leuven


async def test_emergency_list_a_day_before_the_60_days_stamps_nothing(db: str, job_pool: Any):
    r, _, _ = await _listed_request()

    result = await run_job("emergency_list", job_pool, today=BEFORE)

    assert result.counts.get("stamped", 0) == 0
    assert (await CareRequest.get(id=r.id)).emergency_since is None


async def test_emergency_list_on_the_day_stamps_since_that_day(db: str, job_pool: Any):
    r, _, _ = await _listed_request()

    result = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert result.counts["stamped"] == 1
    assert (await CareRequest.get(id=r.id)).emergency_since == ON_LIST


async def test_emergency_list_a_day_later_keeps_the_first_stamp(db: str, job_pool: Any):
    r, _, _ = await _listed_request()
    await run_job("emergency_list", job_pool, today=ON_LIST)

    again = await run_job("emergency_list", job_pool, today=ON_LIST + datetime.timedelta(days=1))

    assert again.counts == {}
    assert (await CareRequest.get(id=r.id)).emergency_since == ON_LIST


async def test_emergency_list_stamps_a_late_request_with_its_submission_date(
    db: str, job_pool: Any
):
    """Filed 30 days before its start: on the list from the day it was submitted."""
    r, _, _ = await _listed_request(start=datetime.date(2026, 7, 31))

    await run_job("emergency_list", job_pool, today=datetime.date(2026, 7, 10))

    assert (await CareRequest.get(id=r.id)).emergency_since == datetime.date(2026, 7, 1)


async def test_emergency_list_skips_fulfilled_withdrawn_and_enrolled_requests(
    db: str, job_pool: Any
):
    r, loc, leuven = await _listed_request()
    h, _ = await f.household(leuven)
    for status in ("FULFILLED", "WITHDRAWN"):
        c = await f.child(h, born=datetime.date(2026, 6, 1))
        await f.care_request(c, loc, start=D, status=status)
    enrolled = await f.child(h, born=datetime.date(2026, 6, 1))
    er = await f.care_request(enrolled, loc, start=D)
    await f.enrolment(enrolled, loc, request=er)

    result = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert result.counts["stamped"] == 1
    stamped = await CareRequest.filter(emergency_since__not_isnull=True).values_list(
        "id", flat=True
    )
    assert stamped == [r.id]


async def test_emergency_list_clears_a_stamp_that_no_longer_holds(db: str, job_pool: Any):
    r, _, _ = await _listed_request()
    await run_job("emergency_list", job_pool, today=ON_LIST)
    await CareRequest.filter(id=r.id).update(desired_start_date=D + datetime.timedelta(days=90))

    result = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert result.counts["left"] == 1
    assert (await CareRequest.get(id=r.id)).emergency_since is None


async def test_emergency_list_notifies_providers_of_the_municipalities_once(db: str, job_pool: Any):
    """Staff of locations in the residence municipality and in the chosen locations'
    municipalities get one message; a location elsewhere gets none; a second run none."""
    leuven = await f.municipality("24062", "Leuven")
    herent = await f.municipality("24038", "Herent")
    bertem = await f.municipality("24009", "Bertem")
    h, _ = await f.household(leuven)
    c = await f.child(h, born=datetime.date(2026, 6, 1))
    chosen_in_herent = await f.location(herent, "De Bolleboos")
    in_leuven = await f.location(leuven, "Het Nest")
    in_bertem = await f.location(bertem, "Elders")
    await f.care_request(c, chosen_in_herent, start=D)
    herent_staff = await f.user(Role.PROVIDER, provider_organisation=chosen_in_herent.organisation)
    leuven_staff = await f.user(Role.PROVIDER, provider_location=in_leuven)
    bertem_staff = await f.user(Role.PROVIDER, provider_organisation=in_bertem.organisation)
    revoked = await f.user(Role.PROVIDER, provider_location=in_leuven)
    await revoked.memberships.all().update(revoked_at=datetime.datetime.now(datetime.UTC))

    first = await run_job("emergency_list", job_pool, today=ON_LIST)
    second = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert first.counts["notified_requests"] == 1
    assert first.counts["messages"] == 2
    assert second.counts == {}
    rows = await fetch("SELECT recipient_id, kind, params FROM outbox ORDER BY recipient_id")
    assert {r["recipient_id"] for r in rows} == {herent_staff.id, leuven_staff.id}
    assert bertem_staff.id not in {r["recipient_id"] for r in rows}
    assert all(r["kind"] == "emergency_list" for r in rows)
    params = {row["params"] for row in rows}
    assert '"count": 1' in "".join(params)
    assert "Familie" not in "".join(params)  # no family names in a message


async def test_emergency_list_notifies_no_staff_of_an_organisation_whose_agreement_ended(
    db: str, job_pool: Any
):
    """The request is announced once; staff whose organisation's processing agreement
    ended yesterday (who can no longer open it) get no message, the others do."""
    r, loc, leuven = await _listed_request()
    staff = await f.user(Role.PROVIDER, provider_location=loc)
    ended = await f.location(leuven, "Zonder overeenkomst")
    await f.user(Role.PROVIDER, provider_location=ended)
    await f.user(Role.PROVIDER, provider_organisation=await ended.organisation)
    await Agreement.filter(
        kind=AgreementKind.PROCESSING,
        provider_organisation_id=ended.organisation_id,  # type: ignore[attr-defined]
    ).update(ends_on=f.days(-1))

    result = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert (result.counts["notified_requests"], result.counts["messages"]) == (1, 1)
    rows = await fetch("SELECT recipient_id, params FROM outbox")
    assert [row["recipient_id"] for row in rows] == [staff.id]
    assert (await CareRequest.get(id=r.id)).emergency_notified_at is not None


async def test_emergency_list_dry_run_counts_exactly_and_changes_nothing(db: str, job_pool: Any):
    r, loc, _ = await _listed_request()
    await f.user(Role.PROVIDER, provider_location=loc)

    dry = await run_job("emergency_list", job_pool, today=ON_LIST, dry_run=True)

    assert dry.counts == {"stamped": 1, "notified_requests": 1, "messages": 1}
    assert dry.run_id is None
    assert (await CareRequest.get(id=r.id)).emergency_since is None
    assert await fetch("SELECT 1 FROM outbox") == []
    real = await run_job("emergency_list", job_pool, today=ON_LIST)
    assert real.counts == dry.counts


async def test_emergency_list_crash_mid_batch_resumes_without_double_work(
    db: str, job_pool: Any, monkeypatch: pytest.MonkeyPatch
):
    """The second batch fails inside its transaction: the first batch's work and counts
    stay, the second's roll back; the next run stamps exactly the rest."""
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    for _ in range(5):
        h, _ = await f.household(leuven)
        await f.care_request(await f.child(h, born=datetime.date(2026, 6, 1)), loc, start=D)
    calls = 0
    original = asyncpg.connection.Connection.execute

    async def failing(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if "SET emergency_since = LEAST" in query:
            calls += 1
            if calls == 2:
                await original(self, query, *args, **kwargs)  # the batch did its update...
                raise ConnectionResetError("crash")  # ...and dies before committing
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "execute", failing)
    with pytest.raises(ConnectionResetError):
        await run_job("emergency_list", job_pool, today=ON_LIST, batch_size=2)
    monkeypatch.undo()

    assert await CareRequest.filter(emergency_since__not_isnull=True).count() == 2
    failed = (await fetch("SELECT status, counts, batches FROM job_run"))[0]
    assert (failed["status"], failed["batches"]) == ("FAILED", 1)
    assert '"stamped": 2' in failed["counts"]

    resumed = await run_job("emergency_list", job_pool, today=ON_LIST, batch_size=2)

    assert resumed.counts["stamped"] == 3
    assert await CareRequest.filter(emergency_since=ON_LIST).count() == 5


async def test_emergency_list_leaves_at_once_when_an_offer_is_accepted(
    db: str, job_pool: Any, actor: Any
):
    """Accepting the offer takes the request off the list in the same transaction, not
    at the next run."""
    leuven = await f.municipality("24062", "Leuven")
    parent_user = await f.user(Role.PARENT)
    h, _ = await f.household(leuven, parent_user)
    c = await f.child(h, born=datetime.date(2026, 6, 1))
    loc = await f.location(leuven)
    soon = f.days(30)
    r = await f.care_request(c, loc, start=soon, application_status="OFFERED")
    await run_job("emergency_list", job_pool)
    assert (await CareRequest.get(id=r.id)).emergency_since is not None
    app_id = (await r.applications.all().first()).id  # type: ignore[union-attr]

    result = await actor(parent_user).gql(
        "mutation($id: ID!) { acceptOffer(input: {applicationId: $id}) { errors { code } } }",
        {"id": str(app_id)},
    )

    assert result["data"]["acceptOffer"]["errors"] == []
    assert (await CareRequest.get(id=r.id)).emergency_since is None


async def test_one_run_at_a_time_the_second_caller_skips(db: str, job_pool: Any):
    await _listed_request()
    async with job_pool.acquire() as holder:
        await holder.execute(
            "SELECT pg_advisory_lock(hashtextextended('loket-job:emergency_list', 0))"
        )
        try:
            skipped = await run_job("emergency_list", job_pool, today=ON_LIST)
        finally:
            await holder.execute(
                "SELECT pg_advisory_unlock(hashtextextended('loket-job:emergency_list', 0))"
            )

    assert skipped.skipped == "already running"
    assert await fetch("SELECT 1 FROM job_run") == []


async def test_a_schedule_tick_runs_once_and_a_failed_tick_resumes(db: str, job_pool: Any):
    first = await run_job("housekeeping", job_pool, trigger="worker", scheduled_for=1_800_000_000)
    again = await run_job("housekeeping", job_pool, trigger="worker", scheduled_for=1_800_000_000)

    assert first.skipped is None
    assert again.skipped == "tick already run"
    await fetch("UPDATE job_run SET status = 'FAILED'")
    retried = await run_job("housekeeping", job_pool, trigger="worker", scheduled_for=1_800_000_000)
    assert retried.skipped is None
    assert [r["status"] for r in await fetch("SELECT status FROM job_run")] == ["SUCCEEDED"]


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


async def _start_worker(url: str, log_path: str, **schedules: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # Only housekeeping, every second (a sixth cron field is seconds), unless told.
        **{f"LOKET_JOB_SCHEDULE_{name.upper()}": "off" for name in DEFAULT_JOB_SCHEDULES},
        "LOKET_JOB_SCHEDULE_HOUSEKEEPING": "* * * * * *",
        **schedules,
    }
    log = open(log_path, "wb")  # noqa: SIM115, ASYNC230 - handed to the child process
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loket.cli", "worker", env=env, stdout=log, stderr=log
    )


async def test_two_workers_never_run_the_same_periodic_job_twice(
    db: str, database: str, tmp_path: Any
):
    """Two real `loket worker` processes on one database, a job due every second: each
    tick is deferred once and run once, by one of them."""
    logs = [str(tmp_path / "worker-a.log"), str(tmp_path / "worker-b.log")]
    workers = [await _start_worker(database, path) for path in logs]
    try:
        conn = await asyncpg.connect(to_asyncpg_dsn(database))
        try:
            both_seen = False
            for _ in range(200):  # both registered and at least 5 ticks run, or 20 s
                await asyncio.sleep(0.1)
                registered = await conn.fetchval("SELECT count(*) FROM procrastinate_workers")
                both_seen = both_seen or registered == 2
                runs = await conn.fetchval(
                    "SELECT count(*) FROM job_run WHERE status = 'SUCCEEDED'"
                )
                if both_seen and runs >= 5:
                    break
        finally:
            await conn.close()
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            await asyncio.wait_for(w.wait(), 30)
    output = "".join(_read(p) for p in logs)

    assert both_seen, output[-3000:]
    runs = await fetch(
        "SELECT scheduled_for, trigger, status FROM job_run WHERE job = 'housekeeping'"
    )
    ticks = [r["scheduled_for"] for r in runs]
    assert len(ticks) >= 3, output[-3000:]
    assert len(ticks) == len(set(ticks))
    assert {r["trigger"] for r in runs} == {"worker"}
    # Every start of the job in either process is one recorded tick: none ran twice.
    started = re.findall(r"job housekeeping started", output)
    assert len(started) == len(ticks), output[-3000:]
    defers = await fetch(
        """SELECT defer_timestamp, count(*) AS n FROM procrastinate_periodic_defers
           WHERE task_name = 'loket.housekeeping' GROUP BY defer_timestamp"""
    )
    assert defers
    assert all(d["n"] == 1 for d in defers)


async def _loket(*args: str, url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loket.cli", *args,
        env={**os.environ, "DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_cli_jobs_run_dry_run_prints_a_summary(db: str, database: str):
    await _listed_request()

    code, out = await _loket(
        "jobs", "run", "emergency_list", "--dry-run", "--today", ON_LIST.isoformat(), url=database
    )

    assert code == 0, out
    assert "emergency_list dry run: would touch" in out
    assert re.search(r"stamped\s+1\b", out)
    assert await fetch("SELECT 1 FROM job_run") == []


async def test_cli_jobs_run_records_the_run(db: str, database: str):
    await _listed_request()

    code, out = await _loket("jobs", "run", "emergency_list", "--quiet", url=database)

    assert code == 0, out
    assert "recorded as job run" in out
    run = (await fetch("SELECT job, trigger, status, reference_date FROM job_run"))[0]
    today = (await fetch("SELECT current_date AS d"))[0]["d"]
    assert dict(run) == {
        "job": "emergency_list",
        "trigger": "cli",
        "status": "SUCCEEDED",
        "reference_date": today,
    }


@pytest.mark.parametrize("days", [2, -2])
async def test_cli_jobs_run_refuses_another_date_without_dry_run(db: str, database: str, days: int):
    other = (datetime.date.today() + datetime.timedelta(days=days)).isoformat()

    code, out = await _loket("jobs", "run", "emergency_list", "--today", other, url=database)

    assert code == 2
    assert "only with --dry-run" in out
    assert await fetch("SELECT 1 FROM job_run") == []


async def test_cli_jobs_run_unknown_job(db: str, database: str):
    code, out = await _loket("jobs", "run", "nope", url=database)

    assert code == 2
    assert "emergency_list" in out


async def test_housekeeping_deletes_only_what_has_served_its_purpose(db: str, job_pool: Any):
    today = datetime.date(2026, 11, 29)
    old = datetime.datetime(2026, 9, 1, tzinfo=datetime.UTC)
    recent = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)
    await fetch(
        """INSERT INTO rate_limit_window (key, window_start, hits)
           VALUES ('old', $1, 3), ('current', now(), 1)""",
        old,
    )
    await fetch(
        """INSERT INTO persisted_document (sha256, body, source, created_at) VALUES
           ('a' || repeat('0', 63), '{ a }', 'APQ', $1),
           ('b' || repeat('0', 63), '{ b }', 'APQ', $2),
           ('c' || repeat('0', 63), '{ c }', 'MANIFEST', $1)""",
        old,
        recent,
    )
    user = await f.user(Role.PARENT)
    await fetch(
        """INSERT INTO outbox (kind, recipient_id, language, params, dedup_key, status, attempts,
                               next_attempt_at, created_at, last_error) VALUES
           ('offer', $1, 'nl', '{}', 'sent-old', 'SENT', 1, $2, $2, ''),
           ('offer', $1, 'nl', '{}', 'pending-old', 'PENDING', 0, $2, $2, ''),
           ('offer', $1, 'nl', '{}', 'sent-recent', 'SENT', 1, now(), now(), '')""",
        user.id,
        datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC),
    )

    dry = await run_job("housekeeping", job_pool, today=today, dry_run=True)
    result = await run_job("housekeeping", job_pool, today=today)

    assert (
        dry.counts
        == result.counts
        == {
            "rate_limit_windows": 1,
            "apq_documents": 1,
            "outbox_messages": 1,
        }
    )
    assert [r["key"] for r in await fetch("SELECT key FROM rate_limit_window")] == ["current"]
    assert sorted(r["source"] for r in await fetch("SELECT source FROM persisted_document")) == [
        "APQ",
        "MANIFEST",
    ]
    assert sorted(r["dedup_key"] for r in await fetch("SELECT dedup_key FROM outbox")) == [
        "pending-old",
        "sent-recent",
    ]
    assert (await run_job("housekeeping", job_pool, today=today)).counts == {}


async def test_a_killed_worker_does_not_block_the_job_for_the_next_worker(
    db: str, database: str, tmp_path: Any
):
    """A worker killed (SIGKILL) in the middle of a job leaves it `doing` in the queue and
    RUNNING in job_run; the next worker still runs the later ticks, and the dead run is
    marked interrupted."""
    await f.municipality("24062", "Leuven")
    await fetch(
        """INSERT INTO request_statistic (municipality_id, month, requests, fulfilled,
               withdrawn, emergency, median_wait_days, computed_at)
           VALUES ('24062', '2026-01-01', 1, 0, 0, 0, NULL, now())"""
    )
    blocker = await asyncpg.connect(to_asyncpg_dsn(database))
    every_second = {
        "LOKET_JOB_SCHEDULE_STATISTICS": "* * * * * *",
        "LOKET_JOB_SCHEDULE_HOUSEKEEPING": "off",
    }
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT * FROM request_statistic FOR UPDATE")  # the job waits
        first = await _start_worker(database, str(tmp_path / "a.log"), **every_second)
        for _ in range(200):
            await asyncio.sleep(0.1)
            if await blocker.fetchval("SELECT count(*) FROM job_run WHERE status = 'RUNNING'"):
                break
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await tx.rollback()
        second = await _start_worker(database, str(tmp_path / "b.log"), **every_second)
        try:
            for _ in range(200):
                await asyncio.sleep(0.1)
                succeeded = await blocker.fetchval(
                    "SELECT count(*) FROM job_run WHERE status = 'SUCCEEDED'"
                )
                if succeeded:
                    break
        finally:
            second.terminate()
            await asyncio.wait_for(second.wait(), 30)
    finally:
        await blocker.close()

    runs = await fetch("SELECT status, error FROM job_run WHERE job = 'statistics' ORDER BY id")
    assert runs[0]["status"] == "FAILED", (runs, _read(str(tmp_path / "b.log"))[-4000:])
    assert runs[0]["error"] == "Interrupted"
    assert any(r["status"] == "SUCCEEDED" for r in runs), _read(str(tmp_path / "b.log"))[-3000:]


async def test_a_dry_run_neither_waits_for_nor_blocks_a_real_run(db: str, job_pool: Any):
    await _listed_request()
    async with job_pool.acquire() as holder:
        await holder.execute(
            "SELECT pg_advisory_lock(hashtextextended('loket-job:emergency_list', 0))"
        )
        try:
            dry = await run_job("emergency_list", job_pool, today=ON_LIST, dry_run=True)
        finally:
            await holder.execute(
                "SELECT pg_advisory_unlock(hashtextextended('loket-job:emergency_list', 0))"
            )

    assert dry.skipped is None
    assert dry.counts["stamped"] == 1


async def test_a_worker_tick_skips_a_busy_job_and_raises_on_failure_for_a_retry(
    db: str, database: str, monkeypatch: pytest.MonkeyPatch
):
    """Busy elsewhere: the tick is skipped (that run does the work). Failed: the task
    raises, so procrastinate retries it, and the retry resumes the same tick's record."""
    from jobs import app as job_app

    job_app.create_app(database)
    task = job_app._task_for("housekeeping")
    try:
        async with (await job_app.pool()).acquire() as holder:
            await holder.execute(
                "SELECT pg_advisory_lock(hashtextextended('loket-job:housekeeping', 0))"
            )
            try:
                await task(timestamp=1_800_000_100)
            finally:
                await holder.execute(
                    "SELECT pg_advisory_unlock(hashtextextended('loket-job:housekeeping', 0))"
                )
        assert await fetch("SELECT 1 FROM job_run") == []

        import jobs.housekeeping as housekeeping

        rules = dict(housekeeping.RULES)
        monkeypatch.setitem(housekeeping.RULES, "outbox_messages", ("no_such_table", "true"))
        with pytest.raises(asyncpg.UndefinedTableError):
            await task(timestamp=1_800_000_123)
        monkeypatch.setattr(housekeeping, "RULES", rules)
        await task(timestamp=1_800_000_123)  # procrastinate's retry
    finally:
        await job_app.close_pool()

    runs = await fetch("SELECT scheduled_for, status FROM job_run")
    assert [tuple(r) for r in runs] == [(1_800_000_123, "SUCCEEDED")]


async def test_a_run_whose_lock_connection_died_stops_before_its_next_batch(db: str, job_pool: Any):
    """The advisory lock lives with its connection; once that connection is gone another
    run may start, so this one must not go on."""
    leuven = await f.municipality("24062", "Leuven")
    loc = await f.location(leuven)
    for _ in range(3):
        h, _ = await f.household(leuven)
        await f.care_request(await f.child(h, born=datetime.date(2026, 6, 1)), loc, start=D)
    original = asyncpg.connection.Connection.execute
    killed = False

    async def kill_lock_holder(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal killed
        result = await original(self, query, *args, **kwargs)
        if "SET emergency_since = LEAST" in query and not killed:
            killed = True
            async with job_pool.acquire() as other:
                await other.execute(
                    """SELECT pg_terminate_backend(pid) FROM pg_locks
                       WHERE locktype = 'advisory' AND granted"""
                )
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(asyncpg.connection.Connection, "execute", kill_lock_holder)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await run_job("emergency_list", job_pool, today=ON_LIST, batch_size=1)

    assert await CareRequest.filter(emergency_since__not_isnull=True).count() == 1


async def test_emergency_list_announces_a_newly_chosen_municipality_once(db: str, job_pool: Any):
    """Announced in Leuven; the family then chooses a location in Herent: the next run
    tells Herent's staff, and nobody in Leuven again."""
    r, loc, _ = await _listed_request()
    leuven_staff = await f.user(Role.PROVIDER, provider_location=loc)
    herent = await f.municipality("24038", "Herent")
    in_herent = await f.location(herent, "De Bolleboos")
    herent_staff = await f.user(Role.PROVIDER, provider_location=in_herent)
    await run_job("emergency_list", job_pool, today=ON_LIST)
    await Application.create(request=r, location=in_herent, preference=2)

    again = await run_job("emergency_list", job_pool, today=ON_LIST)
    third = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert (again.counts["notified_requests"], again.counts["messages"]) == (1, 1)
    assert third.counts == {}
    rows = await fetch("SELECT recipient_id FROM outbox ORDER BY created_at")
    assert [row["recipient_id"] for row in rows] == [leuven_staff.id, herent_staff.id]
    notified = (await CareRequest.get(id=r.id)).emergency_notified_municipalities
    assert sorted(notified) == ["24038", "24062"]


async def test_emergency_list_tells_organisation_staff_once_for_all_its_locations(
    db: str, job_pool: Any
):
    leuven = await f.municipality("24062", "Leuven")
    org = await f.organisation("Kinderopvang Leuven vzw")
    locations = [await f.location(leuven, f"Locatie {i}", organisation=org) for i in range(7)]
    staff = await f.user(Role.PROVIDER, provider_organisation=org)
    for _ in range(2):
        h, _ = await f.household(leuven)
        child = await f.child(h, born=datetime.date(2026, 6, 1))
        await f.care_request(child, locations[0], start=D)

    result = await run_job("emergency_list", job_pool, today=ON_LIST)

    assert (result.counts["notified_requests"], result.counts["messages"]) == (2, 1)
    message = (await fetch("SELECT recipient_id, params FROM outbox"))[0]
    assert message["recipient_id"] == staff.id
    params = orjson.loads(message["params"])
    assert params["count"] == 2
    assert params["locations"] == [f"Locatie {i}" for i in range(5)]
    assert params["more_locations"] == 2
