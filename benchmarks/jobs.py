"""What the daily jobs cost at Flanders size: the emergency list and retention on a
generated platform of 400,000 households (~700,000 parents, 400,000 children and
requests, 1.2 million applications, 8,000 locations, 1 million access-log rows), next to
floors measured in the same run on the same rows: the raw single statements doing the
same writes in one transaction (rolled back).

    .venv/bin/python benchmarks/jobs.py [--scale 1.0] [--today 2026-11-30]
        [--batch-size 5000] [--keep] [--explain] [--timeout 600]

The data set (`loket.synthetic.flanders`, set-based, reproducible from its seed) is
generated into database loket_bench_jobs, which the jobs never touch; every run works on
a fresh copy, loket_bench_jobs_run (CREATE DATABASE ... TEMPLATE, a few seconds). With
--keep an existing data set of the same scale, seed, migrations and generator is reused
(with its reference date unless --today is given). Uses TEST_DATABASE_URL's server when
set, else the embedded test server.

For each job: a dry run, the floors (a warm-up and a timed run, each rolled back, then
VACUUM so the job finds the same pages), the real run, and a second real run that must
change nothing (its counts, and a fingerprint of the tables the job writes, before and
after); every timed run starts right after a CHECKPOINT. A job that is not registered
yet is reported as "job not available yet"; the floors still run. The retention floors
select by the rules of issue 5 (the last enrolment end, else the closing of a request
without enrolment, else the registration, + 5 years, on the Belgian calendar); "all
writes" is one reading of what anonymising writes (accounts closed, memberships revoked,
parents and children cleared, households marked, access-log rows reduced), not the job's
code. --explain prints the floors' plans (EXPLAIN ANALYZE, in a third rolled-back run).

Figures on the 2-core development machine (PostgreSQL 15 with default settings, i.e.
shared_buffers 128 MB for a 1.8 GB data set), scale 1.0, reference date 2026-11-29
(`benchmarks/jobs.py --scale 1.0 --keep`, 2026-11-29): generation 140-155 s (5.7 million
rows; + 4 s migration, 3-5 s VACUUM ANALYZE), copy 4-12 s. Emergency list: 9,371
requests to stamp, 607 stale stamps, 7,225 messages (one per staff member); floor
(stamp) 0.3 s, floor (all writes) 1.1 s; the job 2.5 s (ratio 2.2), its second run
0.14 s. Retention: 64,754 households due (113,223 parents, 61,453 children, 104,122
accounts, 161,483 access-log rows); floor (parents) 2.5 s, floor (all writes) 10.7 s;
the job 34.6 s (ratio 3.2; it also cuts the dates of requests, applications and
enrolments to the month, which the floor does not), its second run 6.5 s. Timings vary
by up to a factor two between runs (the small buffer cache makes every statement flush
pages); counts do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from tortoise import Tortoise

from jobs.runner import RunResult, load_jobs, open_pool, run_job
from loket import synthetic
from loket.db import (
    embedded_server_uri,
    ensure_database,
    migrate,
    to_asyncpg_dsn,
    tortoise_config,
    with_database,
)
from loket.settings import settings

TEMPLATE = "loket_bench_jobs"
WORKING = "loket_bench_jobs_run"
SEED = 0.42
ROOT = Path(__file__).resolve().parent.parent

# --- floors: the same writes as raw statements ($1 reference date, $2 days or years) ---

EMERGENCY_STAMP = """
    UPDATE care_request r
    SET emergency_since = LEAST($1::date,
                                GREATEST(r.desired_start_date - $2::int, r.submitted_at::date))
    WHERE r.status = 'OPEN' AND r.emergency_since IS NULL
      AND r.desired_start_date <= $1::date + $2::int
      AND NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.request_id = r.id)"""

EMERGENCY_LEAVE = """
    UPDATE care_request r SET emergency_since = NULL
    WHERE r.emergency_since IS NOT NULL
      AND (r.status <> 'OPEN' OR r.desired_start_date > $1::date + $2::int
           OR EXISTS (SELECT 1 FROM enrolment e WHERE e.request_id = r.id))"""

# One message per location and staff member for the day, counting the requests newly on
# the list in the location's municipality (residence or a chosen location's).
EMERGENCY_NOTIFY = """
    WITH listed AS (
        SELECT r.id, h.municipality_id FROM care_request r
        JOIN household h ON h.id = r.household_id
        WHERE r.emergency_since IS NOT NULL AND r.emergency_notified_at IS NULL
          AND r.status = 'OPEN'),
    places AS (
        SELECT id AS request_id, municipality_id FROM listed
        UNION
        SELECT a.request_id, l.municipality_id FROM listed x
        JOIN application a ON a.request_id = x.id
        JOIN provider_location l ON l.id = a.location_id),
    per_municipality AS (
        SELECT municipality_id, count(DISTINCT request_id) AS requests
        FROM places GROUP BY municipality_id),
    staff AS (
        SELECT m.user_id, m.provider_location_id AS location_id FROM membership m
        WHERE m.role = 'PROVIDER' AND m.revoked_at IS NULL
          AND m.provider_location_id IS NOT NULL
        UNION
        SELECT m.user_id, l.id FROM membership m
        JOIN provider_location l ON l.organisation_id = m.provider_organisation_id
        WHERE m.role = 'PROVIDER' AND m.revoked_at IS NULL
          AND m.provider_location_id IS NULL),
    sent AS (
        INSERT INTO outbox (kind, recipient_id, language, params, dedup_key, status, attempts,
                            next_attempt_at, created_at, last_error)
        SELECT 'emergency_list', s.user_id, 'nl',
               jsonb_build_object('location_name', l.name, 'count', pm.requests,
                                  'date', $1::date::text),
               'emergency_list:' || $1::date || ':' || l.id || ':' || s.user_id,
               'PENDING', 0, now(), now(), ''
        FROM per_municipality pm
        JOIN provider_location l ON l.municipality_id = pm.municipality_id
        JOIN staff s ON s.location_id = l.id
        JOIN app_user u ON u.id = s.user_id AND u.is_active
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING 1),
    marked AS (
        UPDATE care_request SET emergency_notified_at = now()
        WHERE id IN (SELECT id FROM listed) RETURNING 1)
    SELECT (SELECT count(*) FROM marked) + (SELECT count(*) FROM sent)"""

# Households whose every dossier ended at least 5 years before the reference date: the
# last enrolment end, else the closing of a request without enrolment, else (no request)
# the registration; a running enrolment or an open request keeps the household. Days on
# the Belgian calendar, as the job counts them.
RETENTION_DUE_SELECT = """
    WITH ends AS (
        SELECT c.household_id, e.end_date AS ended FROM enrolment e
        JOIN child c ON c.id = e.child_id
        UNION ALL
        SELECT r.household_id, (r.closed_at AT TIME ZONE 'Europe/Brussels')::date
        FROM care_request r
        WHERE NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.request_id = r.id)),
    last AS (
        SELECT household_id, max(ended) AS ended, bool_or(ended IS NULL) AS running
        FROM ends GROUP BY household_id)
    SELECT h.id FROM household h LEFT JOIN last ON last.household_id = h.id
    WHERE h.anonymised_at IS NULL AND NOT coalesce(last.running, false)
      AND (coalesce(last.ended, (h.created_at AT TIME ZONE 'Europe/Brussels')::date)
           + make_interval(years => $2::int))::date <= $1::date"""

RETENTION_DUE = f"CREATE TEMP TABLE due_household ON COMMIT DROP AS {RETENTION_DUE_SELECT}"

RETENTION_PARENTS = """
    UPDATE parent p SET first_name = '', last_name = '', nationality = NULL, birthplace = '',
        home_language = NULL, street = '', postal_code = '', phone = '', email = '',
        work_situation = NULL, work_share_percent = NULL, education_level = NULL,
        relation_to_child = NULL, rrn_hashes = NULL, rrn_key_ids = NULL, user_id = NULL,
        situation_source_organisation_id = NULL, situation_recorded_at = NULL
    FROM due_household d WHERE p.household_id = d.id"""

# The parents' floor as one statement.
RETENTION_PARENTS_ONE = f"WITH due_household AS ({RETENTION_DUE_SELECT}) {RETENTION_PARENTS}"

RETENTION_TO_DO = f"""
    WITH d AS ({RETENTION_DUE_SELECT})
    SELECT (SELECT count(*) FROM d) AS households_due,
           (SELECT count(*) FROM parent p JOIN d ON d.id = p.household_id) AS parents_due"""

RETENTION_REST = [
    """UPDATE app_user u SET is_active = false, email = 'closed-' || u.id || '@invalid',
           display_name = '', password_hash = NULL
       FROM parent p JOIN due_household d ON d.id = p.household_id WHERE u.id = p.user_id""",
    """UPDATE membership m SET revoked_at = now()
       FROM parent p JOIN due_household d ON d.id = p.household_id
       WHERE m.user_id = p.user_id AND m.revoked_at IS NULL""",
    RETENTION_PARENTS,
    """UPDATE household h SET anonymised_at = now(), income_below_threshold = NULL,
           situation_source_organisation_id = NULL
       FROM due_household d WHERE h.id = d.id""",
    """UPDATE access_log a SET household_id = NULL, fields_read = '[]'::jsonb,
           operation_name = NULL, request_id = ''
       FROM due_household d WHERE a.household_id = d.id""",
    # Children by their own dossier: enrolment end, else request closing, else creation.
    """WITH ends AS (
           SELECT e.child_id, e.end_date AS ended FROM enrolment e
           UNION ALL
           SELECT r.child_id, (r.closed_at AT TIME ZONE 'Europe/Brussels')::date
           FROM care_request r
           WHERE NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.request_id = r.id)),
       last AS (
           SELECT child_id, max(ended) AS ended, bool_or(ended IS NULL) AS running
           FROM ends GROUP BY child_id)
       UPDATE child c SET first_name = '', nickname = '', last_name = '',
           birth_date = date_trunc('month', c.birth_date)::date,
           expected_birth_date = date_trunc('month', c.expected_birth_date)::date,
           rrn_hashes = NULL, rrn_key_ids = NULL, anonymised_at = now()
       FROM child c2 LEFT JOIN last ON last.child_id = c2.id
       WHERE c.id = c2.id AND c.anonymised_at IS NULL AND NOT coalesce(last.running, false)
         AND (coalesce(last.ended, (c.created_at AT TIME ZONE 'Europe/Brussels')::date)
              + make_interval(years => $2::int))::date <= $1::date""",
]

# What a second run must leave as it is: (table, expression fingerprinting a row).
EMERGENCY_TABLES = [("care_request", "t::text"), ("outbox", "t.id::text")]
RETENTION_TABLES = [
    (table, "t::text")
    for table in ("household", "parent", "child", "app_user", "membership", "access_log", "outbox")
]


def server() -> str:
    return settings.test_database_url or embedded_server_uri(
        settings.data_dir / "test-pgdata", "postgres"
    )


def source_digest() -> str:
    """Changes when a migration or the generator changes: the kept data set is stale."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "models" / "migrations").glob("*.py"))
    for path in [*sources, ROOT / "loket" / "synthetic.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


async def admin_connection() -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(
        to_asyncpg_dsn(with_database(server(), "postgres"))
    )
    return conn


async def kept_data_set(scale: float) -> dict[str, Any] | None:
    """The description of the data set in TEMPLATE, if it is complete and current."""
    conn = await admin_connection()
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            TEMPLATE,
        )
    finally:
        await conn.close()
    if not comment:
        return None
    meta: dict[str, Any] = json.loads(comment)
    current = {"scale": scale, "seed": SEED, "source": source_digest()}
    if any(meta.get(k) != v for k, v in current.items()):
        return None
    return meta


async def generate(scale: float, today: datetime.date) -> dict[str, Any]:
    """A new TEMPLATE database: migrated, filled, vacuumed and described in its comment."""
    conn = await admin_connection()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{WORKING}"')
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
    finally:
        await conn.close()
    url = with_database(server(), TEMPLATE)
    started = time.perf_counter()
    await ensure_database(url)
    await migrate(url)
    migrated = time.perf_counter() - started
    print(f"  migrated an empty {TEMPLATE} in {migrated:.1f} s")

    def progress(table: str, rows: int, seconds: float) -> None:
        print(f"    {table:<30} {rows:>10,} rows {seconds:7.1f} s")

    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        counts = await synthetic.flanders(conn, today, scale, SEED, progress)
        filled = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        vacuumed = time.perf_counter() - started
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        meta = {
            "scale": scale,
            "seed": SEED,
            "source": source_digest(),
            "today": today.isoformat(),
            "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "seconds": round(filled, 1),
            "vacuum_seconds": round(vacuumed, 1),
            "bytes": size,
            "counts": counts,
        }
        comment = json.dumps(meta).replace("'", "''")
        await conn.execute(f"COMMENT ON DATABASE \"{TEMPLATE}\" IS '{comment}'")
    finally:
        await conn.close()
    return meta


async def working_copy() -> str:
    """A fresh copy of TEMPLATE for this run's jobs; returns its URL."""
    conn = await admin_connection()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{WORKING}"')
        strategy = " STRATEGY FILE_COPY" if conn.get_server_version().major >= 15 else ""
        await conn.execute(f'CREATE DATABASE "{WORKING}" TEMPLATE "{TEMPLATE}"{strategy}')
    finally:
        await conn.close()
    return with_database(server(), WORKING)


# --- measuring ---


def bound(sql: str, args: Sequence[Any]) -> Sequence[Any]:
    """The first of `args` that `sql` uses ($1 .. $n)."""
    used = [int(n) for n in re.findall(r"\$(\d+)", sql)]
    return args[: max(used, default=0)]


def rate(rows: int, seconds: float) -> str:
    per_second = f"{rows / seconds:,.0f} rows/s" if seconds > 0 and rows else "-"
    return f"{rows:>9,} rows in {seconds:7.2f} s = {per_second}"


async def vacuum(pool: asyncpg.Pool, tables: Sequence[str]) -> None:
    async with pool.acquire() as conn:
        await conn.execute(f"VACUUM {', '.join(tables)}")


async def checkpoint(pool: asyncpg.Pool) -> None:
    """Every timed run starts right after a checkpoint: the same full-page writes to log
    and no earlier run's dirty pages to flush meanwhile."""
    async with pool.acquire() as conn:
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CHECKPOINT")


async def floor(
    pool: asyncpg.Pool,
    statements: Sequence[str],
    args: Sequence[Any],
    tables: Sequence[str],
    explain: bool = False,
) -> tuple[int, float]:
    """Rows written and seconds of `statements` in one transaction, rolled back; a
    warm-up run first, and VACUUM after each run so later runs find the same pages.
    With `explain`, a third run prints each statement's plan (EXPLAIN ANALYZE)."""
    result = (0, 0.0)
    for attempt in range(3 if explain else 2):
        rows = 0
        await checkpoint(pool)
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                started = time.perf_counter()
                for sql in statements:
                    params = bound(sql, args)
                    if attempt == 2:
                        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
                        print("      | " + "\n      | ".join(r[0] for r in plan))
                    elif "RETURNING" in sql:
                        rows += await conn.fetchval(sql, *params)
                    else:
                        status = await conn.execute(sql, *params)
                        if not status.startswith(("SELECT", "CREATE")):
                            rows += int(status.rsplit(" ", 1)[-1])
                if attempt == 1:
                    result = (rows, time.perf_counter() - started)
            finally:
                await tx.rollback()
        await vacuum(pool, tables)
    return result


async def fingerprint(pool: asyncpg.Pool, tables: Sequence[tuple[str, str]]) -> list[Any]:
    async with pool.acquire() as conn:
        return [
            tuple(
                await conn.fetchrow(
                    f"SELECT count(*), sum(hashtextextended({expr}, 0)) FROM {table} t"
                )
            )
            for table, expr in tables
        ]


async def job(
    name: str,
    pool: asyncpg.Pool,
    today: datetime.date,
    batch_size: int,
    seconds: float,
    **kw: Any,
) -> RunResult | None:
    try:
        registered = name in load_jobs()
    except Exception as e:
        print(f"  jobs could not be loaded: {type(e).__name__}: {e}")
        return None
    if not registered:
        print(f"  {name}: job not available yet")
        return None
    try:
        async with asyncio.timeout(seconds):
            return await run_job(name, pool, today=today, batch_size=batch_size, **kw)
    except TimeoutError:
        print(f"  {name}: no result after {seconds:.0f} s (cancelled)")
    except Exception as e:
        print(f"  {name}: failed: {type(e).__name__}: {e}")
    return None


def report(label: str, result: RunResult | None, floors: dict[str, tuple[int, float]]) -> None:
    if result is None:
        return
    rows = sum(result.counts.values())
    print(f"  {label:<28}: {rate(rows, result.seconds)} ({result.batches} batches)")
    print(f"    counts: {json.dumps(result.counts)}")
    if result.skipped:
        print(f"    skipped: {result.skipped}")
    for floor_name, (_, seconds) in floors.items():
        if seconds > 0 and not result.dry_run:
            print(f"    ratio job / floor ({floor_name}): {result.seconds / seconds:.1f}")


async def measure(
    title: str,
    name: str,
    pool: asyncpg.Pool,
    args: argparse.Namespace,
    today: datetime.date,
    expected: str,
    expected_args: Sequence[Any],
    floors: dict[str, tuple[Sequence[str], Sequence[Any]]],
    tables: Sequence[tuple[str, str]],
) -> str:
    """Measure job `name` and its floors; returns a summary line."""
    print(f"\n{title} (job {name!r}, reference date {today}, batch size {args.batch_size}):")
    async with pool.acquire() as conn:
        row = await conn.fetchrow(expected, *expected_args)
    print("  to do: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in row.items()))
    touched = [table for table, _ in tables]
    await checkpoint(pool)
    dry = await job(name, pool, today, args.batch_size, args.timeout, dry_run=True)
    report("dry run", dry, {})
    await vacuum(pool, touched)
    measured: dict[str, tuple[int, float]] = {}
    for floor_name, (statements, floor_args) in floors.items():
        rows, seconds = await floor(pool, statements, floor_args, touched, args.explain)
        measured[floor_name] = (rows, seconds)
        print(f"  {'floor, ' + floor_name:<28}: {rate(rows, seconds)} (rolled back)")
    await checkpoint(pool)
    first = await job(name, pool, today, args.batch_size, args.timeout)
    report("run", first, measured)
    floor_all = measured["all writes"][1]
    if first is None:
        return f"{name}: job not measured; floor (all writes) {floor_all:.1f} s"
    before = await fingerprint(pool, tables)
    await checkpoint(pool)
    second = await job(name, pool, today, args.batch_size, args.timeout)
    after = await fingerprint(pool, tables)
    report("second run", second, {})
    if second is not None:
        changed = [table for (table, _), b, a in zip(tables, before, after, strict=True) if b != a]
        idle = not any(second.counts.values()) and not changed
        verdict = "changed nothing" if idle else f"CHANGED {', '.join(changed) or 'counts'}"
        print(f"    second run {verdict}")
    return (
        f"{name}: {first.seconds:.1f} s for {sum(first.counts.values()):,} rows, floor (all"
        f" writes) {floor_all:.1f} s, ratio {first.seconds / floor_all:.1f}"
    )


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    meta = await kept_data_set(args.scale) if args.keep else None
    size = synthetic.flanders_size(args.scale)
    print(
        f"data set: scale {args.scale} ({size['households']:,} households, "
        f"{size['locations']:,} locations, {size['municipalities']} municipalities), "
        f"seed {SEED}, server {'TEST_DATABASE_URL' if settings.test_database_url else 'embedded'}"
    )
    if meta is None:
        meta = await generate(args.scale, args.today or datetime.date.today())
        print(
            f"  generated in {meta['seconds']:.1f} s (+ VACUUM ANALYZE {meta['vacuum_seconds']}"
            f" s; {time.perf_counter() - started:.1f} s with the migration)"
        )
    else:
        print(f"  kept from {meta['generated_at']} (generated in {meta['seconds']:.1f} s)")
    today = args.today or datetime.date.fromisoformat(meta["today"])
    counts = meta["counts"]
    print(f"  reference date of the data: {meta['today']}; database {meta['bytes'] / 1e9:.2f} GB")
    print(f"  rows: {sum(counts.values()):,}")
    for table, rows in counts.items():
        print(f"    {table:<24} {rows:>10,}")
    started = time.perf_counter()
    url = await working_copy()
    print(f"  working copy {WORKING} made in {time.perf_counter() - started:.1f} s")

    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    pool = await open_pool(url)
    try:
        days, years = settings.emergency_days, settings.retention_years
        emergency = await measure(
            "Emergency list",
            "emergency_list",
            pool,
            args,
            today,
            """SELECT count(*) FILTER (WHERE status = 'OPEN' AND emergency_since IS NULL
                           AND desired_start_date <= $1::date + $2::int) AS open_requests_in_window,
                      count(*) FILTER (WHERE emergency_since IS NOT NULL
                           AND (status <> 'OPEN' OR desired_start_date > $1::date + $2::int))
                          AS stale_stamps,
                      count(*) FILTER (WHERE status = 'OPEN') AS open_requests
               FROM care_request""",
            (today, days),
            {
                "stamp": ([EMERGENCY_STAMP], (today, days)),
                "all writes": (
                    [EMERGENCY_STAMP, EMERGENCY_LEAVE, EMERGENCY_NOTIFY],
                    (today, days),
                ),
            },
            EMERGENCY_TABLES,
        )
        retention = await measure(
            "Retention",
            "retention",
            pool,
            args,
            today,
            RETENTION_TO_DO,
            (today, years),
            {
                "parents": ([RETENTION_PARENTS_ONE], (today, years)),
                "all writes": ([RETENTION_DUE, *RETENTION_REST], (today, years)),
            },
            RETENTION_TABLES,
        )
        print(f"\nsummary at scale {args.scale} (issue 5: both well under a minute):")
        print(f"  {emergency}\n  {retention}")
    finally:
        await pool.close()
        await Tortoise.close_connections()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of Flanders size")
    parser.add_argument(
        "--today", type=datetime.date.fromisoformat, help="reference date (default: today)"
    )
    parser.add_argument("--batch-size", type=int, default=settings.job_batch_size)
    parser.add_argument("--keep", action="store_true", help="reuse a current data set")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the floors")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per job run")
    asyncio.run(main(parser.parse_args()))
