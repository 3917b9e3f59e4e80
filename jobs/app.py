"""The job engine: procrastinate on Loket's own PostgreSQL, one task per job.

Every job is a procrastinate task on the `loket-jobs` queue; jobs with a schedule
(`settings.job_schedules`) are periodic tasks. Procrastinate defers a periodic task
once per tick across all workers (its `procrastinate_periodic_defers` table has a
unique key on task, id and tick), a task's `lock` keeps two of its jobs from running
at once, and its `queueing_lock` keeps one waiting at most. `jobs.runner` adds its own
advisory lock and the per-tick claim in `job_run`, so `loket jobs run` beside a worker
is safe too.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import procrastinate

from jobs.runner import load_jobs, open_pool, run_job
from loket.settings import settings

log = logging.getLogger("loket.jobs")

QUEUE = "loket-jobs"

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
        task = app.task(
            name=f"loket.{name}",
            queue=QUEUE,
            lock=f"loket.{name}",
            queueing_lock=f"loket.{name}",
            pass_context=False,
        )(_task_for(name))
        cron = settings.job_schedules.get(name)
        if cron:
            app.periodic(cron=cron, periodic_id=name)(task)
    return app


async def run_worker(url: str, concurrency: int = 2) -> None:
    """Run a worker until SIGINT/SIGTERM: periodic jobs and deferred ones."""
    app = create_app(url)
    async with app.open_async():
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                install_signal_handlers=True,
                # Job history lives in job_run; the queue keeps only what is pending
                # or failed.
                delete_jobs="successful",
            )
        finally:
            await close_pool()
