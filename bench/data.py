"""The data set of the end-to-end benchmark: database `loket_bench_e2e` (or the name in
LOKET_BENCH_DATABASE, e.g. to work beside a benchmark that is running) on the server of
TEST_DATABASE_URL (else DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test),
migrated with Loket's own migrations (`loket.db.migrate`) and filled with set-based SQL.

    [LOKET_BENCH_DATABASE=name] .venv/bin/python -m bench.data [--scale issue|flanders] [--drop]

Scales (rows, roughly):

| scale    | municipalities | locations | households | parents | requests | applications |
|----------|---------------:|----------:|-----------:|--------:|---------:|-------------:|
| issue    |             60 |       500 |     30,000 |  50,000 |   60,000 |      150,000 |
| flanders |            300 |     8,000 |    400,000 | 700,000 |  400,000 |    1,000,000 |

(one child per request).

Every location belongs to an organisation whose processing agreement is in force and has
one staff user (`staff-<n>@bench.invalid`) with a PROVIDER membership for that location:
what `permissions.agreements` needs before the user's token reads anything. A household
lives in the municipality of its "home" location; its children (siblings alike) choose
that location first and 0-3 others; nine requests in ten are OPEN (applications mostly
PENDING, some WAITLISTED, OFFERED or REFUSED), the others WITHDRAWN. Desired start dates
lie beyond the emergency-list window (`settings.emergency_days`), so a location's inbox is
exactly its open applications and the comparison with PostGraphile, which knows nothing of
the emergency list, stays like for like. Ids are md5 digests of a kind and a number;
values come from random() after setseed(), so a scale always gives the same rows.

One counter ("Lokaal loket Bench gemeente 1") serves one municipality (`COUNTER_MUNICIPALITY`,
NIS 11001): its processing agreement is in force and its staff user
(`loket-<id>@bench.invalid`) has a LOKET membership, what `permissions.viewer` needs to load
the user with the counter's municipalities. The counter reaches the dossiers living there
and those with an application at a location there; the locations of that one municipality
are chosen only by families living there (another family's choice of one is left out, its
other choices keep their order), so the counter's region is exactly its residents: the
rows PostGraphile, whose `condition` tests one column for equality, can list too.

Last-minute places (`last_minute_place`): four locations in five publish offers (family
care 1-3 of one place, group care 2-7 of 1-2 places, never more than the capacity), each
for 5-44 days, some days of the week (the whole week in about half) and an age range,
with a note, created by the location's staff user. 15% ended before the load day, 10% are
withdrawn, the rest end 1-60 days after it (some have not started). At scale issue a
municipality has 7-28 current offers, 16 on average, and about one in six more than a page
of 20 (`last_minute_areas` lists those; the search rotates over them); at scale flanders
three times as many locations share a municipality.

A row in `loket_bench.dataset` (a schema PostGraphile does not expose) records the scale,
the generator's version and the day it was loaded; a later run with the same scale and
version reuses the database (dropping only the access log the last run wrote), anything
else drops and rebuilds it. The rows' dates are relative to the load day: a data set older
than a few days is rebuilt.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from loket.db import ensure_database, migrate, to_asyncpg_dsn, with_database  # noqa: E402
from loket.settings import settings  # noqa: E402

DATABASE = os.environ.get("LOKET_BENCH_DATABASE") or "loket_bench_e2e"
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", DATABASE):
    raise SystemExit(f"LOKET_BENCH_DATABASE: not a plain database name: {DATABASE!r}")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
# Bump when the generated rows change: a database loaded by another version is rebuilt.
VERSION = 2
# A data set is reused for this many days after its load day (its dates are relative).
REUSE_DAYS = 5
# The counter's one municipality: number m of the generated ones (NIS code 11001 + m).
COUNTER_MUNICIPALITY = 0


@dataclass(frozen=True)
class Scale:
    municipalities: int
    locations: int
    households: int
    # Children per household, cycled over the households (its mean times `households`
    # is the number of children, one care request each).
    children_cycle: tuple[int, ...]
    # Share of single-parent households (the others have two parents).
    single_share: float


SCALES = {
    "issue": Scale(60, 500, 30_000, (1, 2, 3), 1 / 3),
    "flanders": Scale(300, 8_000, 400_000, (1,), 1 / 4),
}


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_SERVER


def database_url() -> str:
    """The benchmark database's URL (postgresql://), on the configured server."""
    return with_database(server_url(), DATABASE)


def _admin_dsn(url: str) -> str:
    parts = urlsplit(to_asyncpg_dsn(url))
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))


async def drop_database(url: str | None = None) -> None:
    url = url or database_url()
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await conn.close()


# One statement per step, in one transaction, with `$name` parameters (`_bind`); the plan's
# temporary tables hold what several tables share (ids, home locations, dates).
_STEPS: list[tuple[str, str]] = [
    (
        "region",
        """INSERT INTO region (name)
           SELECT 'Bench provincie ' || p FROM generate_series(1, 5) p""",
    ),
    (
        "municipality",
        """INSERT INTO municipality (nis_code, name, region_id)
           SELECT (11001 + m)::text, 'Bench gemeente ' || (m + 1),
                  (SELECT id FROM region WHERE name = 'Bench provincie ' || (1 + m % 5))
           FROM generate_series(0, $municipalities::int - 1) m""",
    ),
    (
        "postal_code",
        """INSERT INTO postal_code (code, municipality_id, place_name)
           SELECT (1000 + m * 29)::text, (11001 + m)::text, 'Bench gemeente ' || (m + 1)
           FROM generate_series(0, $municipalities::int - 1) m""",
    ),
    (
        "provider_organisation",
        """INSERT INTO provider_organisation (id, name, created_at)
           SELECT md5('org' || o)::uuid, 'Bench organisatie ' || o,
                  $today::date::timestamptz - interval '10 years'
           FROM generate_series(0, $locations::int * 6 / 10) o""",
    ),
    # Every organisation has its processing agreement in force (as provider access needs).
    (
        "agreement",
        """INSERT INTO agreement (id, kind, provider_organisation_id, version, signed_on,
               created_at)
           SELECT md5('agreement ' || id)::uuid, 'PROCESSING', id, 'bench',
                  $today::date - 3650, $today::date::timestamptz - interval '10 years'
           FROM provider_organisation""",
    ),
    # Location n lies in municipality n % M and belongs to organisation n % (0.6 L).
    (
        "provider_location",
        """INSERT INTO provider_location (id, organisation_id, name, street, postal_code,
               municipality_id, kind, capacity, tariff, subsidy_step, min_age_months,
               max_age_months, opening_hours, opening_days, priority_policy,
               priority_criteria)
           SELECT md5('loc' || n)::uuid,
                  md5('org' || (n % ($locations::int * 6 / 10 + 1)))::uuid,
                  'Opvang ' || (n + 1), 'Opvangstraat ' || (n + 1),
                  (1000 + (n % $municipalities::int) * 29)::text,
                  (11001 + n % $municipalities::int)::text,
                  CASE WHEN r < 0.55 THEN 'FAMILY' ELSE 'GROUP' END,
                  CASE WHEN r < 0.55 THEN 4 + floor(r * 8)::int ELSE 14 + floor(r * 80)::int END,
                  CASE WHEN r * 10 - floor(r * 10) < 0.8 THEN 'INCOME_RELATED'
                       ELSE 'FREE_PRICE' END,
                  CASE WHEN r * 10 - floor(r * 10) < 0.4 THEN 3
                       WHEN r * 10 - floor(r * 10) < 0.8 THEN 2 END,
                  0, 36, '07:00-18:30', ARRAY['MON', 'TUE', 'WED', 'THU', 'FRI'], '',
                  CASE WHEN r * 100 - floor(r * 100) < 0.2
                       THEN '[{"criterion": "SIBLING", "weight": 2}]'::jsonb
                       ELSE '[]'::jsonb END
           FROM (SELECT n, random() AS r FROM generate_series(0, $locations::int - 1) n) l""",
    ),
    # One staff member per location, acting for that location only.
    (
        "app_user",
        """INSERT INTO app_user (id, email, display_name, password_hash, is_active, created_at)
           SELECT md5('staff' || n)::uuid, 'staff-' || n || '@bench.invalid',
                  'Medewerker ' || n, NULL, true, $today::date::timestamptz - interval '9 years'
           FROM generate_series(0, $locations::int - 1) n""",
    ),
    (
        "membership",
        """INSERT INTO membership (id, user_id, role, provider_location_id, created_at)
           SELECT md5('membership' || n)::uuid, md5('staff' || n)::uuid, 'PROVIDER',
                  md5('loc' || n)::uuid, $today::date::timestamptz - interval '9 years'
           FROM generate_series(0, $locations::int - 1) n""",
    ),
    # One counter (lokaal loket) for one municipality, its processing agreement in force
    # (what a LOKET membership needs) and one staff user with a LOKET membership.
    (
        "counter",
        """INSERT INTO counter (name)
           SELECT 'Lokaal loket ' || name FROM municipality
           WHERE nis_code = (11001 + $counter_municipality::int)::text""",
    ),
    (
        "counter_municipality",
        """INSERT INTO counter_municipality (counter_id, municipality_id)
           SELECT c.id, m.nis_code FROM counter c
           JOIN municipality m ON c.name = 'Lokaal loket ' || m.name""",
    ),
    (
        "agreement",
        """INSERT INTO agreement (id, kind, counter_id, version, signed_on, created_at)
           SELECT md5('agreement counter ' || id)::uuid, 'PROCESSING', id, 'bench',
                  $today::date - 3650, $today::date::timestamptz - interval '10 years'
           FROM counter""",
    ),
    (
        "app_user",
        """INSERT INTO app_user (id, email, display_name, password_hash, is_active, created_at)
           SELECT md5('counter staff ' || id)::uuid, 'loket-' || id || '@bench.invalid',
                  'Loketmedewerker ' || id, NULL, true,
                  $today::date::timestamptz - interval '9 years'
           FROM counter""",
    ),
    (
        "membership",
        """INSERT INTO membership (id, user_id, role, counter_id, created_at)
           SELECT md5('counter membership ' || id)::uuid, md5('counter staff ' || id)::uuid,
                  'LOKET', id, $today::date::timestamptz - interval '9 years'
           FROM counter""",
    ),
    (
        "plan households",
        """CREATE TEMP TABLE bench_household ON COMMIT DROP AS
           SELECT h, md5('h' || h)::uuid AS household_id, home,
                  (11001 + home % $municipalities::int)::text AS nis_code,
                  (1000 + (home % $municipalities::int) * 29)::text AS postal_code,
                  CASE WHEN r_single < $single_share::float8 THEN 1 ELSE 2 END AS n_parents,
                  ($children_cycle::int[])[1 + (h - 1) % cardinality($children_cycle::int[])]
                      AS n_children,
                  $today::date::timestamptz - make_interval(days => 760 + floor(r_age * 60)::int)
                      AS created_at,
                  r_income, r_work
           FROM (SELECT h, floor(random() * $locations::int)::int AS home, random() AS r_single,
                        random() AS r_age, random() AS r_income, random() AS r_work
                 FROM generate_series(1, $households::int) h) x""",
    ),
    (
        "household",
        """INSERT INTO household (id, municipality_id, family_situation,
               income_below_threshold, situation_source, created_at)
           SELECT household_id, nis_code,
                  CASE WHEN n_parents = 1 THEN 'SINGLE_PARENT' ELSE 'TWO_PARENTS' END,
                  CASE WHEN r_income < 0.1 THEN NULL ELSE r_income < 0.35 END, 'PARENT',
                  created_at
           FROM bench_household ORDER BY h""",
    ),
    (
        "parent",
        """INSERT INTO parent (id, household_id, is_applicant, first_name, last_name,
               nationality, birthplace, home_language, street, postal_code, municipality_id,
               phone, email, work_situation, work_share_percent, education_level,
               relation_to_child, situation_source)
           SELECT md5('p' || h || '-' || k)::uuid, household_id, k = 1,
                  'Ouder ' || h || '-' || k, 'Familie ' || h,
                  CASE WHEN r1 < 0.85 THEN 'BE' ELSE 'NL' END, 'Geboorteplaats ' || (h % 400),
                  CASE WHEN r1 < 0.8 THEN 'nl' ELSE 'fr' END, 'Straat ' || h, postal_code,
                  nis_code, '+3247' || lpad(((h * 2 + k) % 10000000)::text, 7, '0'),
                  'ouder' || h || '-' || k || '@bench.invalid',
                  (ARRAY['WORKING', 'WORKING', 'WORKING', 'WORKING', 'JOB_SEEKING',
                         'IN_TRAINING', 'INTEGRATION_COURSE', 'NONE'])[1 + floor(r2 * 8)::int],
                  CASE WHEN r3 < 0.5 THEN (ARRAY[50, 60, 80, 100, 100])[1 + floor(r2 * 5)::int]
                  END,
                  (ARRAY['NO_SECONDARY_DIPLOMA', 'SECONDARY', 'SECONDARY', 'HIGHER', 'HIGHER'])
                      [1 + floor(r3 * 5)::int],
                  CASE WHEN r1 * 50 - floor(r1 * 50) < 0.03 THEN 'FOSTER_PARENT'
                       ELSE 'PARENT' END,
                  'PARENT'
           FROM (SELECT b.*, k, random() AS r1, random() AS r2, random() AS r3
                 FROM bench_household b CROSS JOIN LATERAL generate_series(1, b.n_parents) k) x
           ORDER BY h, k""",
    ),
    # Children and their requests: one in ten unborn; requests submitted over the last two
    # years, desired start 10-310 days past the emergency-list window; nine in ten OPEN,
    # the rest WITHDRAWN; 1-4 chosen locations, the home location first, the others at a
    # stride of 1-40 location numbers from it (distinct for L > 120).
    (
        "plan children",
        """CREATE TEMP TABLE bench_child ON COMMIT DROP AS
           SELECT x.*, md5('c' || h || '-' || k)::uuid AS child_id,
                  md5('r' || h || '-' || k)::uuid AS request_id,
                  CASE WHEN r_born < 0.1 THEN NULL
                       ELSE $today::date - 30 - floor(r_birth * 510)::int END AS birth_date,
                  CASE WHEN r_born < 0.1 THEN $today::date + 10 + floor(r_birth * 140)::int
                  END AS expected_birth_date,
                  $today::date + $emergency_days::int + 10 + floor(r_start * 300)::int
                      AS desired_start,
                  $today::date::timestamptz - make_interval(days => floor(r_submit * 730)::int)
                      - r_birth * interval '1 day' AS submitted_at,
                  CASE WHEN r_status < 0.9 THEN 'OPEN' ELSE 'WITHDRAWN' END AS status,
                  1 + floor(r_n * 4)::int AS n_locations, 1 + floor(r_stride * 40)::int AS stride
           FROM (SELECT b.h, b.household_id, b.home, k, random() AS r_born,
                        random() AS r_birth, random() AS r_start, random() AS r_submit,
                        random() AS r_status, random() AS r_n, random() AS r_stride
                 FROM bench_household b
                 CROSS JOIN LATERAL generate_series(1, b.n_children) k) x""",
    ),
    (
        "child",
        """INSERT INTO child (id, household_id, first_name, nickname, last_name, birth_date,
               expected_birth_date, created_at)
           SELECT child_id, household_id, 'Kind ' || h || '-' || k, '', 'Familie ' || h,
                  birth_date, expected_birth_date, submitted_at
           FROM bench_child ORDER BY submitted_at""",
    ),
    (
        "care_request",
        """INSERT INTO care_request (id, household_id, child_id, desired_start_date,
               care_pattern, note, status, submitted_at, closed_at)
           SELECT request_id, household_id, child_id, desired_start,
                  '{"MON": "FULL", "TUE": "FULL", "THU": "MORNING"}'::jsonb, '', status,
                  submitted_at,
                  CASE WHEN status = 'WITHDRAWN'
                       THEN submitted_at + (now() - submitted_at) / 2 END
           FROM bench_child ORDER BY submitted_at""",
    ),
    # The counter's municipality is chosen only by families living there: a choice of one
    # of its locations by another family is left out (the others keep their order).
    (
        "application",
        """INSERT INTO application (id, request_id, location_id, preference, status,
               offered_start_date, reply_deadline, by_emergency_offer, staff_child,
               refusal_reason, answered_at, created_at, updated_at)
           SELECT md5('a' || h || '-' || k || '-' || q)::uuid, request_id,
                  md5('loc' || loc)::uuid,
                  row_number() OVER (PARTITION BY request_id ORDER BY q), st,
                  CASE WHEN st = 'OFFERED' THEN desired_start END,
                  CASE WHEN st = 'OFFERED' THEN $today::date + 7 END,
                  false, r < 0.01, CASE WHEN st = 'REFUSED' THEN 'Volzet' ELSE '' END,
                  CASE WHEN st <> 'PENDING' THEN submitted_at + (now() - submitted_at) / 2 END,
                  submitted_at, submitted_at
           FROM (SELECT c.*, (home + (q - 1) * stride) % $locations::int AS loc,
                        CASE WHEN c.status = 'WITHDRAWN' THEN 'WITHDRAWN'
                             WHEN r < 0.72 THEN 'PENDING'
                             WHEN r < 0.87 THEN 'WAITLISTED'
                             WHEN r < 0.90 THEN 'OFFERED'
                             ELSE 'REFUSED' END AS st
                 FROM (SELECT bc.*, q, random() AS r
                       FROM bench_child bc
                       CROSS JOIN LATERAL generate_series(1, bc.n_locations) q) c) a
           WHERE loc % $municipalities::int <> $counter_municipality::int
              OR home % $municipalities::int = $counter_municipality::int
           ORDER BY submitted_at, q""",
    ),
    # Last-minute places: four locations in five publish, family care 1-3 offers of one
    # place, group care 2-7 offers of 1-2 places (never more than the capacity, as
    # `publishLastMinutePlaces` checks). An offer lasts 5-44 days; 15% ended before today
    # (past), 10% were withdrawn, the others end 1-60 days from today (current, some not
    # started yet). Days: the whole week (the locations' MON-FRI) or a part; age ranges
    # and notes from short lists; created 1-14 days before the start (or today) by the
    # location's staff member.
    (
        "last_minute_place",
        """INSERT INTO last_minute_place (id, location_id, period_start, period_end, days,
               min_age_months, max_age_months, places, note, created_at, created_by_id,
               withdrawn_at)
           SELECT md5('lmp' || n || '-' || k)::uuid, md5('loc' || n)::uuid,
                  period_end - len, period_end,
                  ARRAY(SELECT d FROM unnest(ARRAY['MON', 'TUE', 'WED', 'THU', 'FRI'])
                            WITH ORDINALITY u(d, i)
                        WHERE (day_mask >> (i::int - 1)) & 1 = 1 ORDER BY i),
                  (ARRAY[0, 0, 6, 12, 18, 0])[age], (ARRAY[12, 36, 24, 36, 36, 18])[age],
                  CASE WHEN family THEN 1 ELSE 1 + floor(r_places * 2)::int END,
                  (ARRAY['', 'Bel ons voor een kennismaking.',
                         'Enkel op de vermelde dagen.',
                         'Vervangplaats tijdens een verlof, mogelijk verlengbaar.',
                         'Mail de verantwoordelijke met de gewenste startdatum.'])
                      [1 + floor(r_note * 5)::int],
                  created_at, md5('staff' || n)::uuid,
                  CASE WHEN r_kind >= 0.15 AND r_kind < 0.25
                       THEN created_at + ($today::date::timestamptz - created_at) * r_withdrawn
                  END
           FROM (SELECT o.*,
                        least(period_end - len, $today::date)::timestamptz
                            - make_interval(days => 1 + floor(r_created * 14)::int)
                            + r_created * interval '10 hours' AS created_at
                 FROM (SELECT y.*, 5 + floor(r_len * 40)::int AS len,
                              CASE WHEN r_kind < 0.15
                                   THEN $today::date - 1 - floor(r_end * 90)::int
                                   ELSE $today::date + 1 + floor(r_end * 60)::int
                              END AS period_end,
                              CASE WHEN r_days < 0.45 THEN 31
                                   ELSE 1 + floor((r_days - 0.45) / 0.55 * 30)::int
                              END AS day_mask,
                              1 + floor(r_age * 6)::int AS age
                       FROM (SELECT x.n, x.family, k, random() AS r_kind, random() AS r_len,
                                    random() AS r_end, random() AS r_days, random() AS r_age,
                                    random() AS r_places, random() AS r_note,
                                    random() AS r_created, random() AS r_withdrawn
                             FROM (SELECT n, (SELECT kind = 'FAMILY' FROM provider_location
                                              WHERE id = md5('loc' || n)::uuid) AS family,
                                          random() AS r_publish, random() AS r_offers
                                   FROM generate_series(0, $locations::int - 1) n) x
                             CROSS JOIN LATERAL generate_series(1,
                                 CASE WHEN x.family THEN 1 + floor(x.r_offers * 3)::int
                                      ELSE 2 + floor(x.r_offers * 6)::int END) k
                             WHERE x.r_publish < 0.8) y) o) p
           ORDER BY n, k""",
    ),
]


def _bind(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """`$name` placeholders to `$1, $2, ...` and their values, in order of first use."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"\$([a-z_]+)", number, sql), [values[n] for n in names]


async def _load(conn: asyncpg.Connection, scale: Scale, progress: Callable[[str], None]) -> dict:
    if scale.locations <= 120:
        raise ValueError("the chosen-location stride needs more than 120 locations")
    today = datetime.date.today()
    values: dict[str, Any] = {
        "today": today,
        "municipalities": scale.municipalities,
        "locations": scale.locations,
        "households": scale.households,
        "children_cycle": list(scale.children_cycle),
        "single_share": scale.single_share,
        "emergency_days": settings.emergency_days,
        "counter_municipality": COUNTER_MUNICIPALITY,
    }
    counts: dict[str, int] = {}
    async with conn.transaction():
        for setting in (
            "SET LOCAL synchronous_commit = off",
            "SET LOCAL work_mem = '256MB'",
            "SET LOCAL maintenance_work_mem = '512MB'",
            "SET LOCAL max_parallel_workers_per_gather = 0",  # one ordered random() stream
            "SET LOCAL jit = off",
        ):
            await conn.execute(setting)
        await conn.execute("SELECT setseed(0.42)")
        for name, sql in _STEPS:
            started = time.perf_counter()
            statement, params = _bind(sql, values)
            status: str = await conn.execute(statement, *params)
            rows = int(status.rsplit(" ", 1)[-1]) if status[-1].isdigit() else 0
            if not name.startswith("plan"):  # rows per table (some have several steps)
                counts[name] = counts.get(name, 0) + rows
            progress(f"  {name:<24}{rows:>10,} rows {time.perf_counter() - started:6.1f} s")
    return counts


async def _marker(conn: asyncpg.Connection) -> asyncpg.Record | None:
    exists = await conn.fetchval("SELECT to_regclass('loket_bench.dataset') IS NOT NULL")
    if not exists:
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT scale, version, loaded_on, seconds, counts FROM loket_bench.dataset"
    )
    return row


@dataclass
class Dataset:
    url: str
    scale: str
    reused: bool
    load_seconds: float
    counts: dict[str, int]


async def prepare(scale_name: str, progress: Callable[[str], None] = print) -> Dataset:
    """The migrated, loaded benchmark database of `scale_name` (reused when loaded)."""
    scale = SCALES[scale_name]
    url = database_url()
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        marker = await _marker(conn)
    finally:
        await conn.close()
    fresh_enough = (
        marker is not None
        and marker["scale"] == scale_name
        and marker["version"] == VERSION
        and marker["loaded_on"] >= datetime.date.today() - datetime.timedelta(days=REUSE_DAYS)
    )
    if fresh_enough and marker is not None:
        await migrate(url)  # what `loket serve` does too; idempotent
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("TRUNCATE access_log")  # what the last run's reads wrote
        finally:
            await conn.close()
        progress(
            f"reusing {DATABASE} (scale {scale_name}, loaded {marker['loaded_on']} "
            f"in {marker['seconds']:.1f} s)"
        )
        return Dataset(url, scale_name, True, marker["seconds"], json.loads(marker["counts"]))

    started = time.perf_counter()
    if marker is not None or await _has_tables(url):
        progress(f"dropping {DATABASE} (it holds another data set)")
        await drop_database(url)
    progress(f"creating {DATABASE} and applying Loket's migrations")
    await ensure_database(url)
    await migrate(url)
    progress(f"loading scale {scale_name}")
    conn = await asyncpg.connect(url)
    try:
        counts = await _load(conn, scale, progress)
        t = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        progress(f"  {'VACUUM (ANALYZE)':<24}{'':>15} {time.perf_counter() - t:6.1f} s")
        seconds = time.perf_counter() - started
        await conn.execute(
            """CREATE SCHEMA IF NOT EXISTS loket_bench;
               CREATE TABLE IF NOT EXISTS loket_bench.dataset (
                   scale text NOT NULL, version int NOT NULL, loaded_on date NOT NULL,
                   seconds float8 NOT NULL, counts jsonb NOT NULL);
               TRUNCATE loket_bench.dataset"""
        )
        await conn.execute(
            "INSERT INTO loket_bench.dataset VALUES ($1, $2, current_date, $3, $4::jsonb)",
            scale_name,
            VERSION,
            seconds,
            json.dumps(counts),
        )
    finally:
        await conn.close()
    progress(f"loaded in {seconds:.1f} s (create, migrate, load, VACUUM ANALYZE)")
    return Dataset(url, scale_name, False, seconds, counts)


async def _has_tables(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'household'"
        )
        if not n:
            return False
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM household)"))
    finally:
        await conn.close()


@dataclass
class Provider:
    user_id: uuid.UUID
    email: str
    location_id: uuid.UUID
    open_applications: int
    pending: int


async def pick_provider(conn: asyncpg.Connection) -> Provider:
    """The staff user of a typical location: the one whose number of open applications
    is closest to the mean, among those with at least 100 pending (a full inbox page
    either way)."""
    row = await conn.fetchrow(
        """WITH per AS (
               SELECT a.location_id, count(*) AS open_count,
                      count(*) FILTER (WHERE a.status = 'PENDING') AS pending
               FROM application a JOIN care_request r ON r.id = a.request_id
               WHERE a.status IN ('PENDING', 'OFFERED', 'WAITLISTED') AND r.status = 'OPEN'
               GROUP BY a.location_id)
           SELECT u.id, u.email, per.location_id, per.open_count, per.pending
           FROM per
           JOIN membership m ON m.provider_location_id = per.location_id
                AND m.role = 'PROVIDER' AND m.revoked_at IS NULL
           JOIN app_user u ON u.id = m.user_id AND u.is_active
           WHERE per.pending >= 100
           ORDER BY abs(per.open_count - (SELECT avg(open_count) FROM per)), per.location_id
           LIMIT 1"""
    )
    if row is None:
        raise SystemExit("no location has 100 pending applications: is the data loaded?")
    return Provider(row["id"], row["email"], row["location_id"], row["open_count"], row["pending"])


async def dossier_ids(conn: asyncpg.Connection, location: uuid.UUID) -> list[uuid.UUID]:
    """Households the location's staff may open whose every child (and so every request)
    has an open application at the location: Loket then shows the provider the whole
    dossier, which the unscoped PostGraphile query returns too (same rows on both)."""
    rows = await conn.fetch(
        """WITH open_here AS (
               SELECT r.id, r.household_id, r.child_id FROM care_request r
               WHERE r.status = 'OPEN' AND EXISTS (
                   SELECT 1 FROM application a WHERE a.request_id = r.id
                   AND a.location_id = $1 AND a.status IN ('PENDING', 'OFFERED', 'WAITLISTED')))
           SELECT DISTINCT o.household_id AS id FROM open_here o
           WHERE NOT EXISTS (SELECT 1 FROM child c WHERE c.household_id = o.household_id
                             AND c.id NOT IN (SELECT child_id FROM open_here))
             AND NOT EXISTS (SELECT 1 FROM care_request r WHERE r.household_id = o.household_id
                             AND r.id NOT IN (SELECT id FROM open_here))
           ORDER BY 1""",
        location,
    )
    return [r["id"] for r in rows]


# The dossiers a counter reaches: those living in its municipalities and those with an
# application at a location there (`permissions.scopes`, grant COUNTER_REGION).
COUNTER_REGION_SQL = """
SELECT h.id FROM household h
WHERE h.municipality_id = ANY($1::text[]) AND h.anonymised_at IS NULL
UNION
SELECT r.household_id FROM care_request r
JOIN household h ON h.id = r.household_id
JOIN application a ON a.request_id = r.id
JOIN provider_location l ON l.id = a.location_id
WHERE l.municipality_id = ANY($1::text[]) AND h.anonymised_at IS NULL"""


@dataclass
class CounterUser:
    user_id: uuid.UUID
    email: str
    counter_id: int
    counter_name: str
    municipalities: list[str]
    reachable: int  # dossiers of the counter's region (residence or an application)
    residents: int  # of which living in its municipalities


async def pick_counter(conn: asyncpg.Connection) -> CounterUser:
    """The staff user of the counter, with its municipalities and what its region holds.
    Its LOKET membership counts only with the counter's processing agreement in force,
    as `permissions.viewer.load_viewer` requires."""
    row = await conn.fetchrow(
        """SELECT u.id, u.email, c.id AS counter_id, c.name,
                  ARRAY(SELECT cm.municipality_id FROM counter_municipality cm
                        WHERE cm.counter_id = c.id ORDER BY 1) AS municipalities
           FROM membership m
           JOIN app_user u ON u.id = m.user_id AND u.is_active
           JOIN counter c ON c.id = m.counter_id
           WHERE m.role = 'LOKET' AND m.revoked_at IS NULL
             AND EXISTS (SELECT 1 FROM agreement a WHERE a.kind = 'PROCESSING'
                         AND a.counter_id = c.id AND a.signed_on <= current_date
                         AND (a.ends_on IS NULL OR a.ends_on >= current_date))
           ORDER BY c.id, u.email
           LIMIT 1"""
    )
    if row is None or not row["municipalities"]:
        raise SystemExit("no counter user with municipalities: is the data loaded?")
    munis = list(row["municipalities"])
    reachable: int = await conn.fetchval(f"SELECT count(*) FROM ({COUNTER_REGION_SQL}) v", munis)
    residents: int = await conn.fetchval(
        "SELECT count(*) FROM household WHERE municipality_id = ANY($1::text[])"
        " AND anonymised_at IS NULL",
        munis,
    )
    return CounterUser(
        row["id"], row["email"], row["counter_id"], row["name"], munis, reachable, residents
    )


@dataclass
class LastMinuteArea:
    nis_code: str
    name: str
    current: int  # places on offer: published, not withdrawn, not past


async def last_minute_areas(conn: asyncpg.Connection, page: int) -> list[LastMinuteArea]:
    """The municipalities whose current last-minute offers fill more than a page of
    `page` (a search there shows a full page and a next one), by NIS code."""
    rows = await conn.fetch(
        """SELECT m.nis_code, m.name, count(*) AS current
           FROM last_minute_place p
           JOIN provider_location l ON l.id = p.location_id
           JOIN municipality m ON m.nis_code = l.municipality_id
           WHERE p.withdrawn_at IS NULL AND p.period_end >= current_date
           GROUP BY m.nis_code, m.name
           HAVING count(*) > $1
           ORDER BY m.nis_code""",
        page,
    )
    return [LastMinuteArea(r["nis_code"], r["name"], r["current"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="issue")
    parser.add_argument("--drop", action="store_true", help="drop the database and stop")
    args = parser.parse_args()

    async def run() -> None:
        if args.drop:
            await drop_database()
            print(f"dropped {DATABASE}")
            return
        data = await prepare(args.scale)
        conn = await asyncpg.connect(data.url)
        try:
            provider = await pick_provider(conn)
            ids = await dossier_ids(conn, provider.location_id)
            counter = await pick_counter(conn)
            areas = await last_minute_areas(conn, 20)
        finally:
            await conn.close()
        print(json.dumps(data.counts))
        print(
            f"provider {provider.email} at location {provider.location_id}: "
            f"{provider.open_applications} open applications ({provider.pending} pending), "
            f"{len(ids)} whole dossiers visible"
        )
        print(
            f"counter user {counter.email} ({counter.counter_name}, municipalities "
            f"{', '.join(counter.municipalities)}): {counter.reachable} dossiers in reach, "
            f"{counter.residents} of them residents"
        )
        print(
            "municipalities with more than 20 current last-minute offers: "
            + (", ".join(f"{a.nis_code} ({a.current})" for a in areas) or "none")
        )

    asyncio.run(run())


if __name__ == "__main__":
    main()
