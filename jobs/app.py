"""The job engine: procrastinate on Loket's own PostgreSQL, one task per job.

Every job is a procrastinate task on the `loket-jobs` queue; jobs with a schedule
(`settings.job_schedules`) are periodic tasks. Procrastinate defers a periodic task
once per tick across all workers (its `procrastinate_periodic_defers` table has a
unique key on task, id and tick) and its `queueing_lock` keeps one waiting at most.
`jobs.runner` keeps two runs of a job apart with an advisory lock and claims each tick
in `job_run`, so `loket jobs run` beside a worker is safe too; a tick that fails is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import asyncpg
import procrastinate

from jobs.runner import load_jobs, open_pool, run_job
from loket.settings import settings

log = logging.getLogger("loket.jobs")

QUEUE = "loket-jobs"
# A tick that failed is tried again (resuming where it stopped): every minute, five times.
RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=60)
# On SIGTERM running jobs get this long to finish their batch, then are cancelled (the
# batch in flight rolls back; the tick is marked failed and runs again).
SHUTDOWN_SECONDS = 5.0
# A worker that stopped without a signal (the database went away) starts again after
# this long, doubling up to the maximum while it keeps failing; a run that lasted
# RESTART_HEALTHY_SECONDS resets the wait.
RESTART_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
RESTART_HEALTHY_SECONDS = 60.0

_pool: asyncpg.Pool | None = None
_url: str | None = None


async def pool() -> asyncpg.Pool:
    """The worker process's pool for job work (opened on first use)."""
    global _pool
    if _pool is None:
        if _url is None:
            raise RuntimeError("jobs.app.configure() was not called")
        _pool = await open_pool(_url)
    return _pool


async def close_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.close()
        _pool = None


def libpq_conninfo(url: str) -> str:
    """A URL psycopg (libpq) accepts, from any of the forms Loket takes."""
    from loket.db import to_asyncpg_dsn

    return to_asyncpg_dsn(url)


def _task_for(name: str) -> Any:
    async def run(timestamp: int | None = None) -> None:
        # A tick that finds its job running elsewhere (another worker's earlier tick, or
        # `loket jobs run`) is skipped: that run does the same work, every job being a
        # catch-up of everything due. A tick that fails raises, and procrastinate retries
        # it (RETRY); the retry resumes the failed run's record.
        await run_job(name, await pool(), trigger="worker", scheduled_for=timestamp)

    run.__name__ = f"run_{name}"
    run.__qualname__ = run.__name__
    return run


def create_app(url: str) -> procrastinate.App:
    """A procrastinate app on the database at `url` with every job as a task."""
    global _url
    _url = url
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_conninfo(url), min_size=1, max_size=4
        )
    )
    for name in load_jobs():
        # No procrastinate `lock`: a job left `doing` by a killed worker would block it
        # for good. The runner's advisory lock dies with its connection instead.
        task = app.task(
            name=f"loket.{name}",
            queue=QUEUE,
            queueing_lock=f"loket.{name}",
            retry=RETRY,
            pass_context=False,
        )(_task_for(name))
        cron = settings.job_schedules.get(name)
        if cron:
            app.periodic(cron=cron, periodic_id=name)(task)
    return app


async def run_worker(url: str, concurrency: int = 2) -> None:
    """Run a worker until SIGINT/SIGTERM: periodic jobs and deferred ones.

    Procrastinate stops its worker when a side task fails, which is what a restart of
    PostgreSQL does to its LISTEN connection; the process would then exit (status 0),
    and no job would run until someone started it again. So a worker that stops (or
    cannot start) without a signal is started again, after RESTART_SECONDS (doubling
    while it keeps failing, at most RESTART_MAX_SECONDS); the pools reconnect by
    themselves once the database is back."""
    app = create_app(url)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no such handlers on Windows
            loop.add_signal_handler(sig, stopping.set)
    wait = RESTART_SECONDS
    async with app.open_async():
        try:
            while not stopping.is_set():
                started = loop.time()
                worker = asyncio.create_task(
                    app.run_worker_async(
                        queues=[QUEUE],
                        concurrency=concurrency,
                        install_signal_handlers=False,
                        shutdown_graceful_timeout=SHUTDOWN_SECONDS,
                        # Job history lives in job_run; the queue keeps only what is
                        # pending or failed.
                        delete_jobs="successful",
                    )
                )
                stop = asyncio.create_task(stopping.wait())
                await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if stopping.is_set():
                    # Cancelling run_worker_async is procrastinate's graceful stop: running
                    # jobs get SHUTDOWN_SECONDS to finish their batch.
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                    return
                error = None if worker.cancelled() else worker.exception()
                if loop.time() - started > RESTART_HEALTHY_SECONDS:
                    wait = RESTART_SECONDS
                log.warning(
                    "job worker stopped without a signal (%s); starting it again in %.0f s",
                    type(error).__name__ if error else "a side task failed",
                    wait,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), wait)
                wait = min(2 * wait, RESTART_MAX_SECONDS)
        finally:
            await close_pool()
