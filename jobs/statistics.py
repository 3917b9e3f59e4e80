"""The statistics job: recompute the anonymised trend figures (`request_statistic`) whole.

One row per residence municipality of the household and month of submission, from data
that survives anonymisation only: the care request (status, dates, emergency stamp), the
enrolment made for it, the household's municipality. Never a name, a number or anything
of a parent. Suppression of small counts happens when the figures are read
(`resolvers.statistics`); the table holds the true counts.

For a row (municipality M, month S), over the requests of households living in M
submitted in S (months and dates on a Belgian calendar, `TIME_ZONE`), with reference
date `today` and `settings.emergency_days` (60):

- requests: all of them, whatever their status.
- fulfilled / withdrawn: those with status FULFILLED / WITHDRAWN now.
- emergency: those that are or were on the emergency list (noodlijst):
  - stamped by the emergency-list job (`emergency_since` set), or
  - still OPEN with a desired start at most 60 days after `today` (the query-time rule
    of `permissions.scopes.emergency_condition`, so the figure does not wait for the
    stamp), or
  - FULFILLED or WITHDRAWN on a day (`closed_at`) on or after the day their desired start
    came within 60 days (`desired_start_date - 60`): still open then, so on the list
    until they closed. Accepting an offer and withdrawing clear the stamp, so this is
    how closed requests are counted. A closed request without `closed_at` counts only
    through its stamp; a desired start changed while open counts with its last value.
- median_wait_days: the median (`percentile_cont(0.5)`) of the days from the submission
  date to the start date of the enrolment made for the request (the earliest, should
  there be several), over fulfilled requests with such an enrolment; NULL when fewer
  than `MIN_COUNT` of them have one (the table has no column for that base, and a
  median of one or two waits is a person's wait), so no median rests on a small count.
- computed_at: when this run computed it (the same for every row of a run).

The run deletes every row and inserts the new ones in one transaction (one GROUP BY over
the requests): readers see the old table until it commits, and running again gives the
same figures. Rule "rows": the rows written (a dry run counts them and writes nothing).
"""

from __future__ import annotations

from jobs.runner import JobContext, job, rows_affected
from loket.settings import TIME_ZONE, settings

# Counts below this are never shown (see `resolvers.statistics`).
MIN_COUNT = 5
# Months of submission and closing days are those of a Belgian calendar.

# $1: reference date, $2: emergency days, $3: time zone, $4: MIN_COUNT.
FIGURES = """
SELECT h.municipality_id,
       date_trunc('month', r.submitted_at AT TIME ZONE $3::text)::date AS month,
       count(*)::int AS requests,
       count(*) FILTER (WHERE r.status = 'FULFILLED')::int AS fulfilled,
       count(*) FILTER (WHERE r.status = 'WITHDRAWN')::int AS withdrawn,
       count(*) FILTER (WHERE
           r.emergency_since IS NOT NULL
           OR (r.status = 'OPEN' AND r.desired_start_date <= $1::date + $2::int)
           OR (r.status IN ('FULFILLED', 'WITHDRAWN')
               AND (r.closed_at AT TIME ZONE $3::text)::date
                   >= r.desired_start_date - $2::int))::int AS emergency,
       CASE WHEN count(e.start_date) FILTER (WHERE r.status = 'FULFILLED') >= $4::int
            THEN percentile_cont(0.5) WITHIN GROUP (
                     ORDER BY CASE WHEN r.status = 'FULFILLED'
                                   THEN e.start_date - (r.submitted_at AT TIME ZONE $3::text)::date
                              END)
       END AS median_wait_days
FROM care_request r
JOIN household h ON h.id = r.household_id
LEFT JOIN (SELECT request_id, min(start_date) AS start_date FROM enrolment
           WHERE request_id IS NOT NULL GROUP BY request_id) e ON e.request_id = r.id
GROUP BY 1, 2"""

# Two statements in one transaction: a DELETE in a WITH beside the INSERT could run after
# it and trip the unique (municipality, month) key.
RECOMPUTE = f"""
INSERT INTO request_statistic (municipality_id, month, requests, fulfilled, withdrawn,
                               emergency, median_wait_days, computed_at)
SELECT municipality_id, month, requests, fulfilled, withdrawn, emergency,
       median_wait_days, now()
FROM ({FIGURES}) f"""


@job(
    "statistics",
    "recompute the anonymised trend statistics per municipality and month of submission",
    rules=("rows",),
)
async def statistics(ctx: JobContext) -> None:
    params = (ctx.today, settings.emergency_days, TIME_ZONE, MIN_COUNT)
    async with ctx.batch() as conn:
        if ctx.dry_run:
            rows = await conn.fetchval(f"SELECT count(*)::int FROM ({FIGURES}) f", *params)
        else:
            await conn.execute("DELETE FROM request_statistic")
            rows = rows_affected(await conn.execute(RECOMPUTE, *params))
        ctx.count("rows", rows)
    ctx.advance(rows)
