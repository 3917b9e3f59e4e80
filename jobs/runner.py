"""Running one job: the registry, one-at-a-time locking, batches and the run record.

A job is an async function of a `JobContext`. It works in batches: each batch is one
transaction that changes rows and, in the same transaction, adds its counts to the
run's `job_run` row, so a crash loses at most the batch in flight and the record never
claims work that was rolled back. Jobs select only rows that still need the work, so
running again (or after a crash) continues where the last run stopped and a second
complete run changes nothing.

Two processes never run the same job at once: a run holds a PostgreSQL advisory lock
named after the job for its whole duration, and a periodic run also claims its
schedule tick in `job_run` (a unique index), so a tick runs once however many workers
saw it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import orjson

from loket.settings import settings

log = logging.getLogger("loket.jobs")

# Progress callback: (rows done in this step, total rows expected or None).
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    run: Callable[[JobContext], Awaitable[None]]
    # The rules whose counts the job reports, in order (dry run and summary).
    rules: tuple[str, ...] = ()


JOBS: dict[str, Job] = {}


def job(
    name: str, description: str, rules: tuple[str, ...] = ()
) -> Callable[[Callable[[JobContext], Awaitable[None]]], Callable[[JobContext], Awaitable[None]]]:
    """Register a job function under `name` (the name `loket jobs run` takes)."""

    def register(
        fn: Callable[[JobContext], Awaitable[None]],
    ) -> Callable[[JobContext], Awaitable[None]]:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = Job(name=name, description=description, run=fn, rules=rules)
        return fn

    return register


def load_jobs() -> dict[str, Job]:
    """Import every job module so the registry is complete."""
    import jobs.emergency_list
    import jobs.export
    import jobs.housekeeping
    import jobs.notifications
    import jobs.retention
    import jobs.statistics  # noqa: F401

    return JOBS


def rows_affected(status: str) -> int:
    """The row count of a command status such as `UPDATE 12` or `INSERT 0 3`."""
    return int(status.rsplit(" ", 1)[-1])


class JobAlreadyRunning(Exception):
    """Another process holds this job's lock."""


@dataclass
class JobContext:
    """What a running job gets: its pool, reference date, mode and bookkeeping."""

    pool: asyncpg.Pool
    name: str
    today: date
    dry_run: bool = False
    batch_size: int = field(default_factory=lambda: settings.job_batch_size)
    run_id: int | None = None
    progress: Progress | None = None
    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    # The connection holding the job's advisory lock (None in a dry run).
    lock_conn: asyncpg.Connection | None = None
    _pending: Counter[str] = field(default_factory=Counter)

    def count(self, rule: str, rows: int) -> None:
        """Add `rows` to a rule's count (kept only if the current batch commits)."""
        if rows:
            self._pending[rule] += rows

    def expect(self, total: int | None) -> None:
        """Tell the progress bar how many rows to expect."""
        if self.progress is not None:
            self.progress(0, total)

    def advance(self, rows: int) -> None:
        if self.progress is not None and rows:
            self.progress(rows, None)

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[asyncpg.Connection]:
        """One transaction of work. Its counts join the run (and its `job_run` row, in the
        same transaction) only if it commits. A dry run's batch is rolled back."""
        self._pending = Counter()
        if self.lock_conn is not None:
            # The advisory lock lives as long as its connection: if that died, another
            # run may have started, so this one stops before its next batch.
            await self.lock_conn.execute("SELECT 1")
        async with self.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                yield conn
                if self.run_id is not None and not self.dry_run:
                    await conn.execute(
                        """UPDATE job_run SET counts = $2::jsonb, batches = batches + 1
                           WHERE id = $1""",
                        self.run_id,
                        orjson.dumps(dict(self.counts + self._pending)).decode(),
                    )
            except BaseException:
                await tx.rollback()
                self._pending = Counter()
                raise
            if self.dry_run:
                await tx.rollback()
            else:
                await tx.commit()
        self.counts.update(self._pending)
        self.batches += 1
        self._pending = Counter()


@dataclass(frozen=True)
class RunResult:
    job: str
    run_id: int | None
    dry_run: bool
    reference_date: date
    counts: dict[str, int]
    batches: int
    seconds: float
    # Why nothing ran: "tick already run" or "already running elsewhere".
    skipped: str | None = None


def _lock_key(name: str) -> str:
    return f"loket-job:{name}"


async def run_job(
    name: str,
    pool: asyncpg.Pool,
    *,
    today: date | None = None,
    dry_run: bool = False,
    trigger: str = "cli",
    scheduled_for: int | None = None,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run job `name` now; see the module docstring for the guarantees."""
    registry = load_jobs()
    if name not in registry:
        raise KeyError(name)
    spec = registry[name]
    started = time.perf_counter()
    async with pool.acquire() as lock_conn:
        # The reference date is the database's current date, as the query-time rules
        # (emergency list, enrolment retention, agreements) use it.
        reference = today or await lock_conn.fetchval("SELECT current_date")
        # A dry run changes nothing: it neither waits for nor blocks a real run.
        locked = dry_run or await lock_conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", _lock_key(name)
        )
        if not locked:
            log.info("job %s not started: already running elsewhere", name)
            return RunResult(name, None, dry_run, reference, {}, 0, 0.0, "already running")
        try:
            run_id = None
            if not dry_run:
                # Holding the lock, no other run of this job is alive: a run still marked
                # RUNNING died with its process (its tick may run again).
                await lock_conn.execute(
                    """UPDATE job_run SET status = 'FAILED', finished_at = now(),
                              error = 'Interrupted'
                       WHERE job = $1 AND status = 'RUNNING'""",
                    name,
                )
                run_id = await _claim_run(lock_conn, name, reference, trigger, scheduled_for)
                if run_id is None:
                    log.info("job %s tick %s already run", name, scheduled_for)
                    return RunResult(name, None, False, reference, {}, 0, 0.0, "tick already run")
            ctx = JobContext(
                pool=pool,
                name=name,
                today=reference,
                dry_run=dry_run,
                batch_size=batch_size or settings.job_batch_size,
                run_id=run_id,
                progress=progress,
                lock_conn=None if dry_run else lock_conn,
            )
            if run_id is not None:
                # A failed tick that runs again resumes its record's counts.
                row = await lock_conn.fetchrow(
                    "SELECT counts, batches FROM job_run WHERE id = $1", run_id
                )
                ctx.counts.update(orjson.loads(row["counts"]) if row["counts"] else {})
                ctx.batches = row["batches"]
            log.info("job %s started (reference date %s, dry run %s)", name, reference, dry_run)
            try:
                await spec.run(ctx)
            except BaseException as e:
                if run_id is not None:
                    await lock_conn.execute(
                        """UPDATE job_run SET status = 'FAILED', finished_at = now(), error = $2
                           WHERE id = $1""",
                        run_id,
                        type(e).__name__[:200],
                    )
                log.warning(
                    "job %s failed after %d batch(es): %s %s",
                    name,
                    ctx.batches,
                    type(e).__name__,
                    dict(ctx.counts),
                )
                raise
            if run_id is not None:
                await lock_conn.execute(
                    """UPDATE job_run SET status = 'SUCCEEDED', finished_at = now(),
                              counts = $2::jsonb WHERE id = $1""",
                    run_id,
                    orjson.dumps(dict(ctx.counts)).decode(),
                )
            seconds = time.perf_counter() - started
            log.info(
                "job %s done in %.1f s: %d batch(es), %s",
                name,
                seconds,
                ctx.batches,
                dict(ctx.counts),
            )
            return RunResult(
                name, run_id, dry_run, reference, dict(ctx.counts), ctx.batches, seconds
            )
        finally:
            if not dry_run and not lock_conn.is_closed():
                await lock_conn.execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))", _lock_key(name)
                )


async def _claim_run(
    conn: asyncpg.Connection,
    name: str,
    reference: date,
    trigger: str,
    scheduled_for: int | None,
) -> int | None:
    """Insert the run's record; for a periodic tick, only if no run of that tick
    succeeded or is running (a failed tick may run again: it resumes)."""
    if scheduled_for is None:
        run_id: int = await conn.fetchval(
            """INSERT INTO job_run (job, started_at, status, dry_run, reference_date, trigger,
                                    counts, batches, error)
               VALUES ($1, now(), 'RUNNING', false, $2, $3, '{}', 0, '') RETURNING id""",
            name,
            reference,
            trigger,
        )
        return run_id
    claimed: int | None = await conn.fetchval(
        """INSERT INTO job_run (job, started_at, status, dry_run, reference_date, trigger,
                                scheduled_for, counts, batches, error)
           VALUES ($1, now(), 'RUNNING', false, $2, $3, $4, '{}', 0, '')
           ON CONFLICT (job, scheduled_for) WHERE scheduled_for IS NOT NULL AND NOT dry_run
           DO UPDATE SET status = 'RUNNING', started_at = now(), finished_at = NULL,
                         error = '', trigger = EXCLUDED.trigger
           WHERE job_run.status = 'FAILED'
           RETURNING id""",
        name,
        reference,
        trigger,
        scheduled_for,
    )
    return claimed


async def open_pool(url: str, **kwargs: Any) -> asyncpg.Pool:
    from loket.db import to_asyncpg_dsn

    pool: asyncpg.Pool = await asyncpg.create_pool(
        to_asyncpg_dsn(url), min_size=1, max_size=kwargs.pop("max_size", 4), **kwargs
    )
    return pool
