"""The harness's data: bench/data.py's generator (a scale of its own or a small one),
migrated with Loket's own migrations, plus what a mixed load needs that the benchmark's
data set lacks, then the actors and targets the load uses, read back.

Added to the benchmark's rows (set-based SQL, one transaction):

- an account (PARENT membership) for the applicant of every household
  (`parent-<h>@bench.invalid`), so parents can open their dashboard (`myHousehold`);
- a counter for the municipalities of "Bench provincie 1", its processing agreement and
  staff users (`counter-<n>@bench.invalid`);
- published last-minute places at one location in three (public search);
- race fixtures (`races` of each kind): for "last place", a location of capacity 1 with
  two families offered its one place for the same month; for "same offer", an open
  application to be offered twice at once; for "same acceptance", an offer to be
  accepted twice at once (the last two come from the loaded rows, kept apart).

Targets are split so that no write of the load changes what another write or a check
relies on: the provider answers (offer, waitlist, refuse) go to pending applications of
requests without an offer, each application once; the parents' acceptances go to offers
of other requests, one per request; the races use rows of their own.
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench import data as bench_data
from loket.db import ensure_database, migrate, to_asyncpg_dsn, with_database

DATABASE = "loket_reliability"
# bench/data.py's generator needs more than 120 locations (its stride of chosen
# locations); "small" is for short trial runs, "tiny" for tests/test_reliability.py.
SCALES: dict[str, bench_data.Scale] = {
    **bench_data.SCALES,
    "small": bench_data.Scale(8, 130, 1_500, (1, 2), 1 / 3),
    "tiny": bench_data.Scale(3, 125, 300, (1, 2), 1 / 3),
}

_EXTRAS: list[tuple[str, str]] = [
    (
        "parent accounts",
        """WITH applicant AS (
               SELECT p.id AS parent_id, p.household_id,
                      md5('parent-user' || p.household_id)::uuid AS user_id,
                      'parent-' || p.household_id || '@bench.invalid'
                          AS email
               FROM parent p WHERE p.is_applicant AND p.user_id IS NULL),
           users AS (
               INSERT INTO app_user (id, email, display_name, password_hash, is_active,
                                     created_at)
               SELECT user_id, email, 'Ouder', NULL, true, now() - interval '2 years'
               FROM applicant RETURNING id),
           members AS (
               INSERT INTO membership (id, user_id, role, created_at)
               SELECT md5('parent-membership' || id)::uuid, id, 'PARENT',
                      now() - interval '2 years'
               FROM users RETURNING 1)
           UPDATE parent p SET user_id = a.user_id
           FROM applicant a WHERE p.id = a.parent_id""",
    ),
    (
        "counter",
        """WITH c AS (
               INSERT INTO counter (name) VALUES ('Bench loket provincie 1') RETURNING id),
           munis AS (
               INSERT INTO counter_municipality (counter_id, municipality_id)
               SELECT c.id, m.nis_code FROM c, municipality m
               JOIN region r ON r.id = m.region_id WHERE r.name = 'Bench provincie 1'
               RETURNING 1),
           agreement AS (
               INSERT INTO agreement (id, kind, counter_id, version, signed_on, created_at)
               SELECT md5('counter agreement')::uuid, 'PROCESSING', c.id, 'bench',
                      current_date - 3650, now() - interval '10 years' FROM c RETURNING 1),
           users AS (
               INSERT INTO app_user (id, email, display_name, password_hash, is_active,
                                     created_at)
               SELECT md5('counter-user' || n)::uuid, 'counter-' || n || '@bench.invalid',
                      'Loketmedewerker ' || n, NULL, true, now() - interval '9 years'
               FROM generate_series(1, 5) n RETURNING id)
           INSERT INTO membership (id, user_id, role, counter_id, created_at)
           SELECT md5('counter-membership' || u.id)::uuid, u.id, 'LOKET', c.id,
                  now() - interval '9 years'
           FROM users u, c""",
    ),
    (
        "last-minute places",
        """INSERT INTO last_minute_place (id, location_id, period_start, period_end, days,
               min_age_months, max_age_months, places, note, created_at)
           SELECT md5('last-minute' || l.id)::uuid, l.id,
                  current_date + (n % 20)::int, current_date + (n % 20)::int + 30,
                  ARRAY['MON', 'TUE', 'THU'], 0, 36, (1 + n % 3)::int, '', now()
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM provider_location) l
           WHERE n % 3 = 0""",
    ),
]

# Race "last place": per race a location of capacity 1 (its own organisation and
# agreement) and two households, each with an account, a born child and a request
# offered that location's one place for the same month. $1: the number of races; $2: a
# municipality; $3: the start date. One statement: PostgreSQL runs every data-modifying
# CTE once and checks the foreign keys at its end.
_LAST_PLACE = """
WITH k AS (SELECT generate_series(1, $1::int) AS k),
org AS (
    INSERT INTO provider_organisation (id, name, created_at)
    SELECT md5('race-org' || k)::uuid, 'Race organisatie ' || k, now() FROM k RETURNING id),
agr AS (
    INSERT INTO agreement (id, kind, provider_organisation_id, version, signed_on, created_at)
    SELECT md5('race-agreement' || k)::uuid, 'PROCESSING', md5('race-org' || k)::uuid,
           'bench', current_date - 3650, now()
    FROM k RETURNING 1),
loc AS (
    INSERT INTO provider_location (id, organisation_id, name, street, postal_code,
        municipality_id, kind, capacity, tariff, subsidy_step, min_age_months, max_age_months,
        opening_hours, opening_days, priority_policy, priority_criteria)
    SELECT md5('race-loc' || k)::uuid, md5('race-org' || k)::uuid, 'Race opvang ' || k,
           'Racestraat ' || k, (SELECT code FROM postal_code WHERE municipality_id = $2 LIMIT 1),
           $2, 'FAMILY', 1, 'INCOME_RELATED', 2, 0, 36, '07:00-18:00',
           ARRAY['MON', 'TUE', 'WED', 'THU', 'FRI'], '', '[]'::jsonb
    FROM k RETURNING id),
fam AS (
    SELECT k, s, md5('race-h' || k || '-' || s)::uuid AS household_id,
           md5('race-u' || k || '-' || s)::uuid AS user_id,
           md5('race-c' || k || '-' || s)::uuid AS child_id,
           md5('race-r' || k || '-' || s)::uuid AS request_id
    FROM k CROSS JOIN generate_series(1, 2) s),
users AS (
    INSERT INTO app_user (id, email, display_name, password_hash, is_active, created_at)
    SELECT user_id, 'race-' || k || '-' || s || '@bench.invalid', 'Ouder', NULL, true, now()
    FROM fam RETURNING id),
members AS (
    INSERT INTO membership (id, user_id, role, created_at)
    SELECT md5('race-m' || id)::uuid, id, 'PARENT', now() FROM users RETURNING 1),
households AS (
    INSERT INTO household (id, municipality_id, family_situation, income_below_threshold,
                           situation_source, created_at)
    SELECT household_id, $2, 'TWO_PARENTS', false, 'PARENT', now() FROM fam RETURNING id),
parents AS (
    INSERT INTO parent (id, household_id, user_id, is_applicant, first_name, last_name,
        nationality, birthplace, home_language, street, postal_code, municipality_id, phone,
        email, work_situation, work_share_percent, education_level, relation_to_child,
        situation_source)
    SELECT md5('race-p' || k || '-' || s)::uuid, household_id, user_id, true, 'Ouder',
           'Race ' || k || '-' || s, 'BE', '', 'nl', 'Straat', '1000', $2, '+32470000000',
           'race-' || k || '-' || s || '@bench.invalid', 'WORKING', 100, 'HIGHER', 'PARENT',
           'PARENT'
    FROM fam RETURNING 1),
children AS (
    INSERT INTO child (id, household_id, first_name, nickname, last_name, birth_date,
                       expected_birth_date, created_at)
    SELECT child_id, household_id, 'Kind', '', 'Race ' || k || '-' || s,
           current_date - 200, NULL, now()
    FROM fam RETURNING 1),
requests AS (
    INSERT INTO care_request (id, household_id, child_id, desired_start_date, care_pattern,
                              note, status, submitted_at)
    SELECT request_id, household_id, child_id, $3::date,
           '{"MON": "FULL"}'::jsonb, '', 'OPEN', now() - interval '30 days'
    FROM fam RETURNING 1)
INSERT INTO application (id, request_id, location_id, preference, status, offered_start_date,
    reply_deadline, by_emergency_offer, staff_child, refusal_reason, answered_at, created_at,
    updated_at)
SELECT md5('race-a' || k || '-' || s)::uuid, request_id, md5('race-loc' || k)::uuid, 1,
       'OFFERED', $3::date, current_date + 7, false, false, '', now(), now(), now()
FROM fam
"""


@dataclass(frozen=True)
class Answer:
    """A pending application a provider answers (each once)."""

    provider: uuid.UUID
    location: uuid.UUID
    application: uuid.UUID
    request: uuid.UUID


@dataclass(frozen=True)
class Acceptance:
    """An offer a parent accepts."""

    parent: uuid.UUID
    application: uuid.UUID
    request: uuid.UUID
    location: uuid.UUID


@dataclass(frozen=True)
class LastPlace:
    """Two families offered the one place of `location` for the same month."""

    location: uuid.UUID
    offers: tuple[Acceptance, Acceptance]


@dataclass
class Actors:
    url: str
    parents: list[uuid.UUID]
    providers: list[tuple[uuid.UUID, uuid.UUID]]  # (user, location)
    counters: list[uuid.UUID]
    municipalities: list[str]
    answers: list[Answer]
    acceptances: list[Acceptance]
    race_same_offer: list[Answer] = field(default_factory=list)
    race_same_acceptance: list[Acceptance] = field(default_factory=list)
    race_last_place: list[LastPlace] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


async def prepare(
    server_url: str,
    scale: str = "issue",
    *,
    providers: int = 40,
    races: int = 0,
    progress: Callable[[str], None] = print,
) -> Actors:
    """Create, migrate and load database `DATABASE` on the server of `server_url` (a
    fresh one: an existing database of that name is dropped), then read the actors back.
    `providers` locations get their staff's inboxes and answers; `races` race fixtures
    of each kind are set aside."""
    url = with_database(server_url, DATABASE)
    admin = await asyncpg.connect(to_asyncpg_dsn(with_database(server_url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await admin.close()
    started = time.perf_counter()
    await ensure_database(url)
    await migrate(url)
    progress(f"migrated {DATABASE} in {time.perf_counter() - started:.1f} s")
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        counts = await bench_data._load(conn, SCALES[scale], progress)
        async with conn.transaction():
            for name, sql in _EXTRAS:
                t = time.perf_counter()
                status = await conn.execute(sql)
                progress(f"  {name:<24}{status:>16} {time.perf_counter() - t:6.1f} s")
            if races:
                muni = await conn.fetchval("SELECT min(nis_code) FROM municipality")
                start = datetime.date.today() + datetime.timedelta(days=150)
                await conn.execute(_LAST_PLACE, races, muni, start)
        await conn.execute("VACUUM (ANALYZE)")
        actors = await read_actors(conn, url, providers=providers, races=races)
    finally:
        await conn.close()
    actors.counts = counts
    progress(f"data ready in {time.perf_counter() - started:.1f} s: {counts}")
    return actors


async def read_actors(conn: asyncpg.Connection, url: str, *, providers: int, races: int) -> Actors:
    parents = [
        r["user_id"]
        for r in await conn.fetch(
            """SELECT p.user_id FROM parent p JOIN care_request r ON r.household_id = p.household_id
               WHERE p.user_id IS NOT NULL AND p.email LIKE 'ouder%'
               GROUP BY p.user_id ORDER BY md5(p.user_id::text) LIMIT 5000"""
        )
    ]
    # Locations with the most pending applications, each with its staff user.
    staff = await conn.fetch(
        """SELECT m.user_id, a.location_id, count(*) AS pending
           FROM application a JOIN membership m ON m.provider_location_id = a.location_id
           WHERE a.status = 'PENDING' GROUP BY m.user_id, a.location_id
           ORDER BY count(*) DESC, a.location_id LIMIT $1""",
        providers,
    )
    locations = [r["location_id"] for r in staff]
    by_location = {r["location_id"]: r["user_id"] for r in staff}
    # One offer per request at most (a second acceptance of one request fails by design).
    offers = await conn.fetch(
        """SELECT DISTINCT ON (a.request_id) p.user_id, a.id, a.request_id, a.location_id
           FROM application a JOIN care_request r ON r.id = a.request_id
           JOIN parent p ON p.household_id = r.household_id AND p.user_id IS NOT NULL
           WHERE a.status = 'OFFERED' AND r.status = 'OPEN' AND p.email LIKE 'ouder%'
           ORDER BY a.request_id, a.id"""
    )
    acceptances = [
        Acceptance(r["user_id"], r["id"], r["request_id"], r["location_id"]) for r in offers
    ]
    # Pending applications at the providers' locations, of requests without any offer.
    pending = await conn.fetch(
        """SELECT a.location_id, a.id, a.request_id FROM application a
           JOIN care_request r ON r.id = a.request_id AND r.status = 'OPEN'
           WHERE a.location_id = ANY($1::uuid[]) AND a.status = 'PENDING'
             AND NOT EXISTS (SELECT 1 FROM application o
                             WHERE o.request_id = a.request_id AND o.status = 'OFFERED')
           ORDER BY md5(a.id::text)""",
        locations,
    )
    answers = [
        Answer(by_location[r["location_id"]], r["location_id"], r["id"], r["request_id"])
        for r in pending
    ]
    counters = [
        r["user_id"]
        for r in await conn.fetch(
            "SELECT user_id FROM membership WHERE role = 'LOKET' ORDER BY user_id"
        )
    ]
    municipalities = [
        r["nis_code"]
        for r in await conn.fetch(
            "SELECT DISTINCT municipality_id AS nis_code FROM provider_location ORDER BY 1"
        )
    ]
    providers_ = [(user, location) for location, user in by_location.items()]
    actors = Actors(url, parents, providers_, counters, municipalities, [], [])
    # Races take their rows first; the load gets the rest.
    actors.race_same_offer = answers[:races]
    actors.race_same_acceptance = acceptances[:races]
    used = {a.request for a in actors.race_same_offer}
    actors.answers = [a for a in answers[races:] if a.request not in used]
    actors.acceptances = acceptances[races:]
    if races:
        rows = await conn.fetch(
            """SELECT a.location_id, p.user_id, a.id, a.request_id FROM application a
               JOIN care_request r ON r.id = a.request_id
               JOIN parent p ON p.household_id = r.household_id
               WHERE p.email LIKE 'race-%' ORDER BY a.location_id, p.email"""
        )
        pairs: dict[Any, list[Acceptance]] = {}
        for r in rows:
            pairs.setdefault(r["location_id"], []).append(
                Acceptance(r["user_id"], r["id"], r["request_id"], r["location_id"])
            )
        actors.race_last_place = [LastPlace(loc, (a, b)) for loc, (a, b) in pairs.items()]
    return actors


def server_env(url: str, pool: int) -> dict[str, str]:
    """The environment of a `loket serve` or `loket worker` on `url`: this process's
    (the same JWT signing settings, so the tokens the harness mints are accepted), the
    database with a pool of `pool`, and no GraphiQL page (no asset download at start)."""
    # (The embedded server's URL already has a query: ?host=<socket directory>.)
    joiner = "&" if "?" in url else "?"
    return {**os.environ, "DATABASE_URL": f"{url}{joiner}maxsize={pool}", "LOKET_GRAPHIQL": "0"}


def main() -> None:
    """Load the data set into database `DATABASE` of a server (its URL given), e.g. for
    a run in another process."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--server", required=True, help="postgresql://... of the server")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--providers", type=int, default=40)
    parser.add_argument("--races", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    actors = asyncio.run(
        prepare(
            args.server,
            args.scale,
            providers=args.providers,
            races=args.races,
            progress=(lambda _: None) if args.quiet else print,
        )
    )
    print(actors.url)


if __name__ == "__main__":
    main()
