"""The emergency list (noodlijst) job: stamp since when requests are on it, notify once.

The query-time rule (`permissions.scopes.emergency_condition`) decides who may see a
request; this daily job records since when a request is on the list and drives the
notifications. Rules, for reference date `today` and `settings.emergency_days` (60):

- "stamped": an OPEN request without an enrolment whose desired start date is 60 days
  away or closer gets `emergency_since` = the day it entered the list: its desired start
  minus 60 days, or its submission date when it was filed later (never after `today`).
- "left": a stamp on a request that no longer qualifies (fulfilled, withdrawn, enrolled,
  or its desired start moved later) is cleared. Accepting an offer and withdrawing clear
  the stamp in their own transaction already, so a fulfilled request leaves the list at
  once; this rule catches every other way out.
- "notified_requests" / "messages": every stamped request not yet notified is announced
  to the staff of every provider location in its residence municipality and in the
  municipalities of its chosen locations, who hold their role under a processing agreement
  in force today (as for their access). One message per location and staff member per
  batch (of up to 100,000 requests, so in practice one per run) says how many requests
  entered the list (no personal data); the request is then marked
  `emergency_notified_at` in the same transaction, so it is announced once, ever.

Each rule runs in batches of `batch_size` requests (one statement per batch); a dry run
does every rule in one transaction that is rolled back, so its counts are exact.
"""

from __future__ import annotations

from jobs.outbox import Kind
from jobs.runner import JobContext, job, rows_affected
from loket.settings import settings
from models.accounts import Role
from permissions.agreements import role_in_force

STAMP = """
    WITH batch AS (
        SELECT r.id FROM care_request r
        WHERE r.status = 'OPEN' AND r.emergency_since IS NULL
          AND r.desired_start_date <= $1::date + $2::int
          AND NOT EXISTS (SELECT 1 FROM enrolment e WHERE e.request_id = r.id)
        ORDER BY r.id LIMIT $3 FOR UPDATE OF r SKIP LOCKED)
    UPDATE care_request r
    SET emergency_since = LEAST($1::date,
                                GREATEST(r.desired_start_date - $2::int, r.submitted_at::date))
    FROM batch WHERE r.id = batch.id"""

LEAVE = """
    WITH batch AS (
        SELECT r.id FROM care_request r
        WHERE r.emergency_since IS NOT NULL
          AND (r.status <> 'OPEN'
               OR r.desired_start_date > $1::date + $2::int
               OR EXISTS (SELECT 1 FROM enrolment e WHERE e.request_id = r.id))
        ORDER BY r.id LIMIT $3 FOR UPDATE OF r SKIP LOCKED)
    UPDATE care_request r SET emergency_since = NULL
    FROM batch WHERE r.id = batch.id"""

NOTIFY = f"""
    WITH listed AS (
        SELECT r.id, h.municipality_id AS home,
               coalesce(r.emergency_notified_municipalities, '{{}}') AS done
        FROM care_request r JOIN household h ON h.id = r.household_id
        WHERE r.emergency_since IS NOT NULL AND r.status = 'OPEN'),
    places AS (
        SELECT l.id AS request_id, l.home AS municipality_id, l.done FROM listed l
        UNION
        SELECT l.id, pl.municipality_id, l.done FROM listed l
        JOIN application a ON a.request_id = l.id
        JOIN provider_location pl ON pl.id = a.location_id),
    due AS (
        SELECT DISTINCT request_id FROM places WHERE municipality_id <> ALL(done)
        ORDER BY request_id LIMIT $2),
    batch AS (
        SELECT r.id FROM care_request r WHERE r.id IN (SELECT request_id FROM due)
        FOR UPDATE OF r SKIP LOCKED),
    fresh AS (
        SELECT p.request_id, p.municipality_id FROM places p
        WHERE p.request_id IN (SELECT id FROM batch) AND p.municipality_id <> ALL(p.done)),
    -- Staff (with their agreement in force) of the locations in the municipalities
    -- reached, then each staff member's requests over their municipalities: the fan-out
    -- is per municipality, not per location.
    staff AS (
        SELECT m.user_id, loc.name, loc.municipality_id
        FROM membership m
        JOIN provider_location loc
          ON loc.id = m.provider_location_id
          OR (m.provider_location_id IS NULL AND loc.organisation_id = m.provider_organisation_id)
        JOIN app_user u ON u.id = m.user_id AND u.is_active
        WHERE m.role = 'PROVIDER' AND m.revoked_at IS NULL
          AND loc.municipality_id IN (SELECT municipality_id FROM fresh)
          AND {role_in_force(Role.PROVIDER)}),
    user_requests AS (
        SELECT um.user_id, count(DISTINCT f.request_id) AS requests,
               md5(string_agg(DISTINCT f.request_id::text || f.municipality_id, ','
                              ORDER BY f.request_id::text || f.municipality_id)) AS digest
        FROM (SELECT DISTINCT user_id, municipality_id FROM staff) um
        JOIN fresh f ON f.municipality_id = um.municipality_id
        GROUP BY um.user_id),
    user_locations AS (
        SELECT user_id, array_agg(DISTINCT name ORDER BY name) AS locations
        FROM staff GROUP BY user_id),
    per_user AS (
        SELECT ur.user_id, ur.requests, ur.digest, ul.locations
        FROM user_requests ur JOIN user_locations ul ON ul.user_id = ur.user_id),
    sent AS (
        INSERT INTO outbox (kind, recipient_id, language, params, dedup_key, status, attempts,
                            next_attempt_at, created_at, last_error)
        SELECT '{Kind.EMERGENCY_LIST}', user_id, 'nl',
               jsonb_build_object('locations', locations[1:5],
                                  'more_locations', greatest(cardinality(locations) - 5, 0),
                                  'count', requests, 'date', $1::date::text),
               '{Kind.EMERGENCY_LIST}:' || digest || ':' || user_id,
               'PENDING', 0, now(), now(), ''
        FROM per_user
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING 1),
    reached AS (
        SELECT p.request_id, array_agg(DISTINCT p.municipality_id ORDER BY p.municipality_id)
                             AS municipalities
        FROM places p WHERE p.request_id IN (SELECT id FROM batch) GROUP BY p.request_id),
    marked AS (
        UPDATE care_request r SET emergency_notified_at = now(),
            emergency_notified_municipalities = reached.municipalities
        FROM reached WHERE r.id = reached.request_id RETURNING 1)
    SELECT (SELECT count(*) FROM marked) AS requests, (SELECT count(*) FROM sent) AS messages"""


NOTIFY_BATCH = 100_000


@job(
    "emergency_list",
    "stamp requests on the emergency list (60 days) and notify providers once",
    rules=("stamped", "left", "notified_requests", "messages"),
)
async def emergency_list(ctx: JobContext) -> None:
    days = settings.emergency_days
    limit = None if ctx.dry_run else ctx.batch_size
    async with ctx.pool.acquire() as conn:
        ctx.expect(
            await conn.fetchval(
                """SELECT count(*) FROM care_request
                   WHERE status = 'OPEN' AND emergency_since IS NULL
                     AND desired_start_date <= $1::date + $2::int""",
                ctx.today,
                days,
            )
        )
    if ctx.dry_run:
        # Everything in one transaction, rolled back: exact counts, nothing changed.
        async with ctx.batch() as conn:
            stamped = rows_affected(await conn.execute(STAMP, ctx.today, days, limit))
            left = rows_affected(await conn.execute(LEAVE, ctx.today, days, limit))
            row = await conn.fetchrow(NOTIFY, ctx.today, limit)
            ctx.count("stamped", stamped)
            ctx.count("left", left)
            ctx.count("notified_requests", row["requests"])
            ctx.count("messages", row["messages"])
        return
    for rule, sql in (("stamped", STAMP), ("left", LEAVE)):
        while True:
            async with ctx.batch() as conn:
                rows = rows_affected(await conn.execute(sql, ctx.today, days, limit))
                ctx.count(rule, rows)
            if rule == "stamped":
                ctx.advance(rows)
            if rows < ctx.batch_size:
                break
    # Announcements go in large batches: each batch is one message per location and staff
    # member, so a backlog (the first run) should not split a location's count in many.
    notify_limit = max(ctx.batch_size, NOTIFY_BATCH)
    while True:
        async with ctx.batch() as conn:
            row = await conn.fetchrow(NOTIFY, ctx.today, notify_limit)
            ctx.count("notified_requests", row["requests"])
            ctx.count("messages", row["messages"])
        if row["requests"] < notify_limit:
            break
