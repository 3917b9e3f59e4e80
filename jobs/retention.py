"""The retention job: anonymise children, then parents, five years after their dossier's
last use, so that what remains serves the trend statistics only.

Reference dates (timestamps become dates on a Belgian calendar, `TIME_ZONE`; N is
`settings.retention_years`, 5; "today" is the run's reference date, `ctx.today`):

- **A child's reference date** is the latest of: the end dates of the child's enrolments;
  for each request of the child without an enrolment made for it, the day it closed
  (`closed_at`, or its submission day if a closed request lacks one); and, if the child
  has no request at all, the day the child was registered (`created_at`).
- **A household's reference date** is the same over the whole dossier: the latest of
  the end dates of all its children's enrolments; the closing day of each of its
  requests without an enrolment; the registration day of each child without a request
  (a child registered later is a later use of the dossier); and, if the household has
  no request at all, the day it was registered. That is the latest of its children's
  reference dates (and its registration without requests), so a household is due
  exactly when all its children are and, without requests, its registration is old
  enough: the job anonymises children first and households after, and an anonymised
  household holds only anonymised children.
- A child (household) is anonymised once reference date + N years <= today: on the
  anniversary itself, not the day before. Never while it (any of its children) has an
  OPEN request or a current enrolment (no end date), whatever the dates.

Rule "children" (run first), per child: first name, nickname and last name become '',
the RRN digests go, birth date and expected birth date are cut to the first day of
their month (an exact birth date with a municipality re-identifies), and so are the
dates of its sick-child service records, of its requests (submitted, desired start,
closed, emergency list), of their applications and of its enrolments (start, end: a
location with exact enrolment dates is as good as a name); the care pattern and the
free text of its requests (`care_request.note`) and of their applications
(`refusal_reason`) are cleared, `anonymised_at` is set. The trend statistics of those
months then count waits in whole months.

Rule "households" / "parents", per household: every parent's names, birthplace,
nationality, home language, address (street, postal code; the municipality stays for the
statistics), phone, email, work situation and share, education, relation to the child,
RRN digests and the organisation that entered the situation are cleared, and the parent
row loses its user account. The household's income indicator and situation organisation
are cleared and `anonymised_at` is set. Free text that may name people goes: request
notes, refusal reasons, mandate consent notes; the household's invitations and copies
of its data (`data_export`) are deleted, and mandates still running are revoked (no one
is left for the organisation to act for).
Each parent's account is closed ("accounts_closed": inactive, an address that reaches
no one, no name, no password, memberships revoked, saved searches and pending outbox
messages deleted) unless it still serves another purpose: an active non-PARENT
membership or a parent row in a dossier that is not anonymised ("accounts_unlinked":
only the link to the parent row goes; an account kept for a staff role alone also loses
its PARENT membership). The dossier's access-log rows keep what the statistics need
(when, viewer, role, grant, outcome) and lose the dossier, the fields, the operation and
the request id ("access_log_rows").

The anonymising statements take their eligibility condition as a parameter
(`anonymise_children_sql`, `anonymise_households_sql`): this job passes "due after N
years"; an erasure on request (`resolvers.rights`) passes "no open request and no place
that has not ended" (`ERASE_CHILDREN`, `ERASE_HOUSEHOLDS`) and then runs the same
`finish_households`. The statements are built once, at import.

Kept on purpose: requests (dates, pattern, status, submission time: waiting times),
enrolments, applications, the municipalities, the family situation, service records and
consent ledgers (about rows that now name no one).

Work is set-based: each rule walks its table's not-yet-anonymised rows in order of
registration (`created_at`, then id: a keyset), one window of `ctx.batch_size` rows per
batch (one transaction). In the window it locks the rows that are due (`FOR NO KEY UPDATE
SKIP LOCKED`: a row a user is changing waits for the next run) and anonymises them with a
few statements whatever the batch size. Registration order rather than id order because
a household, its parents, its first child and the account were written together and lie
together on disk: a window touches a few pages of each table instead of nearly all of
them (the catch-up run at Flanders size, 65,000 households due: 42 s in id order, about
30 s in this order; a partial index on (created_at, id) WHERE anonymised_at IS NULL
serves each window). Before a household is anonymised its children's rows are locked
too and the condition is checked again in a later statement, so a request submitted or
an offer accepted at that moment (both lock the child) either lands first and keeps the
dossier, or waits. Only rows with `anonymised_at IS NULL` are candidates, so a second
run changes nothing and a run after a crash (its batch rolled back) continues where it
stopped. A dry run runs the same selections without locks and counts what each rule
would touch. Logs carry counts only.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from jobs.runner import JobContext, job
from loket.settings import TIME_ZONE, settings

log = logging.getLogger("loket.jobs.retention")

# Reference days are days on a Belgian calendar.
# Keyset start: every (created_at, id) lies after it.
_FIRST = (datetime.datetime(1, 1, 1, tzinfo=datetime.UTC), uuid.UUID(int=0))

RULES = (
    "children",
    "households",
    "parents",
    "accounts_closed",
    "accounts_unlinked",
    "access_log_rows",
)


def _day(timestamp: str) -> str:
    return f"({timestamp} AT TIME ZONE '{TIME_ZONE}')::date"


def _closed_without_enrolment(requests: str) -> str:
    """SQL: the latest closing day of the requests `requests` (a FROM ... WHERE over
    `care_request r`) that no enrolment was made for."""
    return f"""(SELECT max({_day("coalesce(r.closed_at, r.submitted_at)")}) {requests}
               AND NOT EXISTS (SELECT 1 FROM enrolment re WHERE re.request_id = r.id))"""


def _due(reference: str, years: str, today: str) -> str:
    return f"({reference} + make_interval(years => {years}))::date <= {today}"


def child_eligible(child: str, years: str, today: str) -> str:
    """SQL condition: `child` is due for anonymisation (module docstring)."""
    reference = f"""greatest(
        (SELECT max(e.end_date) FROM enrolment e WHERE e.child_id = {child}.id),
        {_closed_without_enrolment(f"FROM care_request r WHERE r.child_id = {child}.id")},
        CASE WHEN NOT EXISTS (SELECT 1 FROM care_request r WHERE r.child_id = {child}.id)
             THEN {_day(f"{child}.created_at")} END)"""
    return f"""NOT EXISTS (SELECT 1 FROM care_request r
                       WHERE r.child_id = {child}.id AND r.status = 'OPEN')
        AND NOT EXISTS (SELECT 1 FROM enrolment e
                        WHERE e.child_id = {child}.id AND e.end_date IS NULL)
        AND {_due(reference, years, today)}"""


def household_due(household: str, pending: str, years: str, today: str) -> str:
    """SQL condition: `household` is due for anonymisation, given `pending`, a condition
    on its not-yet-anonymised child `pc` saying the child is not due (yet).

    The household reference date is the latest of its children's reference dates and,
    if it never had a request, its own registration day; its children have no open
    request or current enrolment exactly when none of them has. So a household is due
    when none of its children is pending and, without any request, it was registered N
    years ago. In a real run the children rule has just run with the same reference
    date, so a child not anonymised is pending (`pending` is "true"): two index lookups
    per household. A dry run anonymised nothing: there a child is pending when it is
    not due either."""
    h = household
    return f"""NOT EXISTS (SELECT 1 FROM child pc WHERE pc.household_id = {h}.id
                       AND pc.anonymised_at IS NULL AND {pending})
        AND (EXISTS (SELECT 1 FROM care_request r WHERE r.household_id = {h}.id)
             OR {_due(_day(f"{h}.created_at"), years, today)})"""


# $1, $2: registration time and id of the last row of the previous window, $3: its size.
WINDOW = """SELECT id, created_at FROM {table} WHERE anonymised_at IS NULL
  AND (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3"""

# $1: the window's ids, $2: retention years, $3: today.
ELIGIBLE_CHILDREN = f"""SELECT c.id FROM child c
WHERE c.id = ANY($1::uuid[]) AND c.anonymised_at IS NULL AND {child_eligible("c", "$2", "$3")}
ORDER BY c.id"""

ELIGIBLE_HOUSEHOLDS = f"""SELECT h.id FROM household h
WHERE h.id = ANY($1::uuid[]) AND h.anonymised_at IS NULL
  AND {household_due("h", "true", "$2", "$3")}
ORDER BY h.id"""

WOULD_BE_ELIGIBLE_HOUSEHOLDS = f"""SELECT h.id FROM household h
WHERE h.id = ANY($1::uuid[]) AND h.anonymised_at IS NULL
  AND {household_due("h", f"NOT ({child_eligible('pc', '$2', '$3')})", "$2", "$3")}
ORDER BY h.id"""

LOCK = " FOR NO KEY UPDATE SKIP LOCKED"


def anonymise_children_sql(eligible: str) -> str:
    """The statement that anonymises those of the children $1 (ids) that meet `eligible`,
    a condition on child `c` (the retention job's or the erasure's). The condition is
    checked here again: this statement sees what committed while the rows were locked."""
    return f"""
WITH done AS (
    UPDATE child c SET first_name = '', nickname = '', last_name = '',
        rrn_hashes = NULL, rrn_key_ids = NULL,
        birth_date = date_trunc('month', c.birth_date)::date,
        expected_birth_date = date_trunc('month', c.expected_birth_date)::date,
        anonymised_at = now()
    WHERE c.id = ANY($1::uuid[]) AND c.anonymised_at IS NULL
      AND {eligible}
    RETURNING c.id),
requests AS (
    UPDATE care_request r SET note = '', care_pattern = '{{}}'::jsonb,
        submitted_at = date_trunc('month', r.submitted_at),
        desired_start_date = date_trunc('month', r.desired_start_date)::date,
        closed_at = date_trunc('month', r.closed_at),
        emergency_since = date_trunc('month', r.emergency_since)::date,
        emergency_notified_at = date_trunc('month', r.emergency_notified_at)
    FROM done WHERE r.child_id = done.id RETURNING r.id),
applications AS (
    UPDATE application a SET refusal_reason = '',
        created_at = date_trunc('month', a.created_at),
        updated_at = date_trunc('month', a.updated_at),
        answered_at = date_trunc('month', a.answered_at),
        offered_start_date = date_trunc('month', a.offered_start_date)::date,
        reply_deadline = date_trunc('month', a.reply_deadline)::date
    FROM care_request r, done
    WHERE r.child_id = done.id AND a.request_id = r.id
    RETURNING a.id),
enrolments AS (
    UPDATE enrolment e SET start_date = date_trunc('month', e.start_date)::date,
        end_date = date_trunc('month', e.end_date)::date
    FROM done WHERE e.child_id = done.id RETURNING e.id),
services AS (
    UPDATE service_record s SET service_date = date_trunc('month', s.service_date)::date
    FROM done WHERE s.child_id = done.id AND extract(day FROM s.service_date) <> 1
    RETURNING s.id)
SELECT count(*)::int FROM done"""


# $1: the children, $2: retention years, $3: today.
ANONYMISE_CHILDREN = anonymise_children_sql(child_eligible("c", "$2", "$3"))

LOCK_CHILDREN = """SELECT 1 FROM child WHERE household_id = ANY($1::uuid[])
ORDER BY id FOR NO KEY UPDATE"""


def anonymise_households_sql(eligible: str) -> str:
    """The statement that anonymises those of the households $1 (ids) that meet
    `eligible`, a condition on household `h`. Whatever the condition says, a household
    with an open request or a current enrolment is kept: this is checked after the
    children's rows were locked, and against what may have reached an anonymised child
    meanwhile."""
    return f"""UPDATE household h SET income_below_threshold = NULL,
    situation_source_organisation_id = NULL, anonymised_at = now()
WHERE h.id = ANY($1::uuid[]) AND h.anonymised_at IS NULL
  AND {eligible}
  AND NOT EXISTS (SELECT 1 FROM care_request r WHERE r.household_id = h.id AND r.status = 'OPEN')
  AND NOT EXISTS (SELECT 1 FROM child c JOIN enrolment e ON e.child_id = c.id
                  WHERE c.household_id = h.id AND e.end_date IS NULL)
RETURNING h.id"""


# $1: the households, $2: retention years, $3: today.
ANONYMISE_HOUSEHOLDS = anonymise_households_sql(household_due("h", "true", "$2", "$3"))


def child_in_use(child: str, today: str) -> str:
    """SQL condition: `child` has an open request, or a place that has not ended by
    `today` (no end date, or one not yet past)."""
    return f"""(EXISTS (SELECT 1 FROM care_request r
                    WHERE r.child_id = {child}.id AND r.status = 'OPEN')
        OR EXISTS (SELECT 1 FROM enrolment e WHERE e.child_id = {child}.id
                   AND (e.end_date IS NULL OR e.end_date >= {today})))"""


# Erasure on request (`resolvers.rights`): the same statements with the erasure's
# condition instead of the five years. $1: the children, $2: today.
ERASE_CHILDREN = anonymise_children_sql(f"NOT {child_in_use('c', '$2')}")
# $1: the households: they go once none of their children is left named.
ERASE_HOUSEHOLDS = anonymise_households_sql(
    "NOT EXISTS (SELECT 1 FROM child pc WHERE pc.household_id = h.id AND pc.anonymised_at IS NULL)"
)

# The accounts of the parents of households $1: closed (`close`) when they serve nothing
# else (no active staff membership, no parent row in a dossier that stays); otherwise only
# unlinked, and an account that stays for its staff role alone loses its parent role
# (`drop_parent_role`).
ACCOUNTS = """SELECT a.user_id, NOT a.staff AND NOT a.other_dossier AS close,
    a.staff AND NOT a.other_dossier AS drop_parent_role
FROM (SELECT p.user_id,
        EXISTS (SELECT 1 FROM membership m WHERE m.user_id = p.user_id
                AND m.revoked_at IS NULL AND m.role <> 'PARENT') AS staff,
        EXISTS (SELECT 1 FROM parent o JOIN household oh ON oh.id = o.household_id
                WHERE o.user_id = p.user_id AND o.household_id <> ALL($1::uuid[])
                  AND oh.anonymised_at IS NULL) AS other_dossier
      FROM parent p WHERE p.household_id = ANY($1::uuid[]) AND p.user_id IS NOT NULL) a"""

ANONYMISE_PARENTS = f"""
WITH accounts AS ({ACCOUNTS}),
closed AS (
    UPDATE app_user u SET is_active = false, email = 'anonymised-' || u.id || '@invalid',
        display_name = '', password_hash = NULL
    FROM accounts a WHERE u.id = a.user_id AND a.close RETURNING u.id),
memberships AS (
    UPDATE membership m SET revoked_at = now() FROM closed
    WHERE m.user_id = closed.id AND m.revoked_at IS NULL RETURNING m.id),
parent_roles AS (
    UPDATE membership m SET revoked_at = now() FROM accounts a
    WHERE a.drop_parent_role AND m.user_id = a.user_id AND m.role = 'PARENT'
      AND m.revoked_at IS NULL RETURNING m.id),
searches AS (
    DELETE FROM saved_search s USING closed WHERE s.user_id = closed.id RETURNING s.id),
messages AS (
    DELETE FROM outbox o USING closed
    WHERE o.recipient_id = closed.id AND o.status = 'PENDING' RETURNING o.id),
parents AS (
    UPDATE parent p SET first_name = '', last_name = '', birthplace = '',
        nationality = NULL, home_language = NULL, street = '', postal_code = '',
        phone = '', email = '', work_situation = NULL, work_share_percent = NULL,
        education_level = NULL, relation_to_child = NULL,
        situation_source_organisation_id = NULL, rrn_hashes = NULL, rrn_key_ids = NULL,
        user_id = NULL
    WHERE p.household_id = ANY($1::uuid[]) RETURNING p.id)
SELECT (SELECT count(*) FROM parents)::int AS parents,
       (SELECT count(*) FROM closed)::int AS accounts_closed,
       (SELECT count(*) FROM accounts WHERE NOT close)::int AS accounts_unlinked"""

# Free text that may name people, invitations, copies of the dossier (exports), mandates
# still running (no one is left to act for), and the access log reduced to statistics.
REDUCE_TRACES = """
WITH notes AS (
    UPDATE care_request r SET note = ''
    WHERE r.household_id = ANY($1::uuid[]) AND r.note <> '' RETURNING r.id),
reasons AS (
    UPDATE application a SET refusal_reason = '' FROM care_request r
    WHERE r.household_id = ANY($1::uuid[]) AND a.request_id = r.id
      AND a.refusal_reason <> '' RETURNING a.id),
mandates AS (
    UPDATE mandate m SET consent_note = '', revoked_at = coalesce(m.revoked_at, now())
    WHERE m.household_id = ANY($1::uuid[]) AND (m.consent_note <> '' OR m.revoked_at IS NULL)
    RETURNING m.id),
invitations AS (
    DELETE FROM invitation i WHERE i.household_id = ANY($1::uuid[]) RETURNING i.id),
exports AS (
    DELETE FROM data_export x WHERE x.household_id = ANY($1::uuid[]) RETURNING x.id),
access AS (
    UPDATE access_log l SET household_id = NULL, fields_read = '[]'::jsonb,
        operation_name = NULL, request_id = ''
    WHERE l.household_id = ANY($1::uuid[]) RETURNING l.id)
SELECT count(*)::int FROM access"""

# What a dry run counts for households $1 (the same sets the statements above change).
COUNT_HOUSEHOLD_WORK = f"""
WITH accounts AS ({ACCOUNTS})
SELECT (SELECT count(*) FROM parent WHERE household_id = ANY($1::uuid[]))::int AS parents,
       (SELECT count(*) FROM accounts WHERE close)::int AS accounts_closed,
       (SELECT count(*) FROM accounts WHERE NOT close)::int AS accounts_unlinked,
       (SELECT count(*) FROM access_log
        WHERE household_id = ANY($1::uuid[]))::int AS access_log_rows"""


async def finish_households(conn: asyncpg.Connection, done: list[uuid.UUID]) -> dict[str, int]:
    """The parents, their accounts and the traces of households `done`, which were just
    anonymised in this transaction (by the job, or by an erasure): rows per rule."""
    counts = await conn.fetchrow(ANONYMISE_PARENTS, done)
    result = {
        rule: int(counts[rule]) for rule in ("parents", "accounts_closed", "accounts_unlinked")
    }
    result["access_log_rows"] = int(await conn.fetchval(REDUCE_TRACES, done))
    return result


async def _window(
    conn: asyncpg.Connection, table: str, after: tuple[datetime.datetime, uuid.UUID], size: int
) -> list[Any]:
    return list(await conn.fetch(WINDOW.format(table=table), *after, size))


async def _children_batch(ctx: JobContext, conn: asyncpg.Connection, window: list[Any]) -> None:
    params = (settings.retention_years, ctx.today)
    if ctx.dry_run:
        eligible = await conn.fetch(ELIGIBLE_CHILDREN, window, *params)
        ctx.count("children", len(eligible))
        return
    locked = [r["id"] for r in await conn.fetch(ELIGIBLE_CHILDREN + LOCK, window, *params)]
    if locked:
        ctx.count("children", await conn.fetchval(ANONYMISE_CHILDREN, locked, *params))


async def _households_batch(ctx: JobContext, conn: asyncpg.Connection, window: list[Any]) -> None:
    params = (settings.retention_years, ctx.today)
    if ctx.dry_run:
        eligible = [
            r["id"] for r in await conn.fetch(WOULD_BE_ELIGIBLE_HOUSEHOLDS, window, *params)
        ]
        if eligible:
            ctx.count("households", len(eligible))
            work = await conn.fetchrow(COUNT_HOUSEHOLD_WORK, eligible)
            for rule in ("parents", "accounts_closed", "accounts_unlinked", "access_log_rows"):
                ctx.count(rule, work[rule])
        return
    locked = [r["id"] for r in await conn.fetch(ELIGIBLE_HOUSEHOLDS + LOCK, window, *params)]
    if not locked:
        return
    # A request submitted or an offer accepted for one of these children locks the
    # child first: wait for it, then decide again on what has committed.
    await conn.execute(LOCK_CHILDREN, locked)
    done = [r["id"] for r in await conn.fetch(ANONYMISE_HOUSEHOLDS, locked, *params)]
    if not done:
        return
    ctx.count("households", len(done))
    for rule, rows in (await finish_households(conn, done)).items():
        ctx.count(rule, rows)


Batch = Callable[[JobContext, asyncpg.Connection, list[Any]], Awaitable[None]]


async def _walk(ctx: JobContext, table: str, batch: Batch) -> None:
    """Every window of not-yet-anonymised rows of `table`, one transaction each."""
    after: tuple[datetime.datetime, uuid.UUID] = _FIRST
    while True:
        async with ctx.batch() as conn:
            # Compiling these many small subqueries costs more than running them.
            await conn.execute("SET LOCAL jit = off")
            window = await _window(conn, table, after, ctx.batch_size)
            if window:
                await batch(ctx, conn, [r["id"] for r in window])
        if not window:
            return
        after = (window[-1]["created_at"], window[-1]["id"])
        ctx.advance(len(window))


@job(
    "retention",
    "anonymise children, parents and their accounts 5 years after the dossier's last use",
    rules=RULES,
)
async def retention(ctx: JobContext) -> None:
    async with ctx.pool.acquire() as conn:
        ctx.expect(
            await conn.fetchval(
                """SELECT (SELECT count(*) FROM child WHERE anonymised_at IS NULL)
                        + (SELECT count(*) FROM household WHERE anonymised_at IS NULL)"""
            )
        )
    # Children first: a household is due once all its children are anonymised
    # (`household_due`), so an anonymised household never holds a named child.
    await _walk(ctx, "child", _children_batch)
    done = "would be anonymised" if ctx.dry_run else "anonymised"
    log.info("retention: children done, %d %s", ctx.counts["children"], done)
    await _walk(ctx, "household", _households_batch)
    log.info(
        "retention: households done, %d %s (%d parents, %d accounts closed)",
        ctx.counts["households"],
        done,
        ctx.counts["parents"],
        ctx.counts["accounts_closed"],
    )
