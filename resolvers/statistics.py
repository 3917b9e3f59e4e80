"""Trend statistics with small counts suppressed, and the record of job runs.

`trendStatistics` reads the table the statistics job computes (`jobs.statistics`): one
statement, scoped first to the viewer's municipalities (counter staff: their counter's
region, as the counter views; admins: all), then suppressed row by row:

1. Primary: a count (requests, fulfilled, withdrawn, emergency) below 5 is null; zero
   included, since "none" is as telling as "one".
2. Secondary, so no suppressed or small count comes back by subtraction. A row's requests
   split into fulfilled + withdrawn + still open, and into emergency + not emergency;
   "open" and "not emergency" are never shown, but a reader can compute what the shown
   parts leave of the shown total. That remainder must be at least 5, else more is
   withheld:
   - fulfilled/withdrawn/open: while requests - (shown fulfilled) - (shown withdrawn) < 5,
     withdrawn is withheld too, else fulfilled (withdrawn first: fulfilled carries the
     rate). So when exactly one of the three parts is small and the other two are shown,
     a second is withheld; a withheld part (at least 5) makes the remainder at least 5.
     A small fulfilled beside a shown withdrawn needs no second: the never-shown open
     part hides with it, and the two together (the remainder) are at least 5.
   - emergency: withheld too when requests - emergency < 5.
   When requests itself is withheld, nothing can be subtracted from it and every part
   is below 5 anyway.
3. Rates and medians: fulfilmentRate = fulfilled / requests only when fulfilled >= 5
   and requests - fulfilled >= 5 (no small complement) and the fulfilled count is shown
   (else rate x requests would give it back); medianWaitDays only when fulfilled >= 5
   (the job keeps a median only over at least 5 waits).

Rows are per (municipality, month) only, with no totals across them, so no other
relation between published cells exists to subtract along.

`jobRuns` lists the `job_run` records, newest first, for admins.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Annotated, Any

import orjson

from jobs.statistics import MIN_COUNT
from loket.context import Info
from loket.db import fetch
from permissions.scopes import Params
from resolvers.counters import region_of, window
from resolvers.validation import storable
from schema.common import page_size
from schema.directives import arg
from schema.regions import Municipality
from schema.statistics import JobRun, JobRunCount, JobRunStatus, TrendFigure, TrendStatistic

# Months in the default window: this month and the eleven before it.
DEFAULT_MONTHS = 12


def statistics_window(
    from_month: datetime.date | None, to_month: datetime.date | None, today: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """First days of the first and last month: by default the twelve months up to this
    one; with one bound, twelve months from (or up to) it; at most 36 months."""
    if from_month is None and to_month is None:
        index = today.year * 12 + today.month - DEFAULT_MONTHS
        from_month, to_month = datetime.date(index // 12, index % 12 + 1, 1), today
    return window(from_month, to_month, today)


@dataclass(frozen=True)
class Shown:
    """A row's figures as a reader may see them (None: withheld) and what was withheld."""

    requests: int | None
    fulfilled: int | None
    withdrawn: int | None
    emergency: int | None
    fulfilment_rate: float | None
    median_wait_days: float | None
    hidden: frozenset[TrendFigure]


def suppress(
    requests: int, fulfilled: int, withdrawn: int, emergency: int, median: float | None
) -> Shown:
    """Rules 1-3 of the module docstring, for one row of true figures."""
    counts = {
        TrendFigure.REQUESTS: requests,
        TrendFigure.FULFILLED: fulfilled,
        TrendFigure.WITHDRAWN: withdrawn,
        TrendFigure.EMERGENCY: emergency,
    }
    hidden = {figure for figure, n in counts.items() if n < MIN_COUNT}
    if TrendFigure.REQUESTS not in hidden:
        parts = (TrendFigure.WITHDRAWN, TrendFigure.FULFILLED)
        while True:
            shown_parts = [p for p in parts if p not in hidden]
            if not shown_parts or requests - sum(counts[p] for p in shown_parts) >= MIN_COUNT:
                break
            hidden.add(shown_parts[0])
        if requests - emergency < MIN_COUNT:
            hidden.add(TrendFigure.EMERGENCY)
    if (
        fulfilled < MIN_COUNT
        or requests - fulfilled < MIN_COUNT
        or {TrendFigure.FULFILLED, TrendFigure.REQUESTS} & hidden
    ):
        hidden.add(TrendFigure.FULFILMENT_RATE)
    if fulfilled < MIN_COUNT or median is None:
        hidden.add(TrendFigure.MEDIAN_WAIT_DAYS)

    def count(figure: TrendFigure) -> int | None:
        return None if figure in hidden else counts[figure]

    return Shown(
        requests=count(TrendFigure.REQUESTS),
        fulfilled=count(TrendFigure.FULFILLED),
        withdrawn=count(TrendFigure.WITHDRAWN),
        emergency=count(TrendFigure.EMERGENCY),
        fulfilment_rate=(None if TrendFigure.FULFILMENT_RATE in hidden else fulfilled / requests),
        median_wait_days=None if TrendFigure.MEDIAN_WAIT_DAYS in hidden else median,
        hidden=frozenset(hidden),
    )


STATISTICS_SQL = """SELECT s.month, s.municipality_id, m.name AS municipality_name,
    s.requests, s.fulfilled, s.withdrawn, s.emergency, s.median_wait_days, s.computed_at
FROM request_statistic s
JOIN municipality m ON m.nis_code = s.municipality_id
WHERE s.month >= {start} AND s.month <= {end} AND {scope}
ORDER BY s.month, m.name, s.municipality_id"""


def _row(r: Any) -> TrendStatistic:
    shown = suppress(
        r["requests"], r["fulfilled"], r["withdrawn"], r["emergency"], r["median_wait_days"]
    )
    return TrendStatistic(
        month=r["month"],
        municipality=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
        requests=shown.requests,
        fulfilled=shown.fulfilled,
        withdrawn=shown.withdrawn,
        emergency=shown.emergency,
        fulfilment_rate=shown.fulfilment_rate,
        median_wait_days=shown.median_wait_days,
        suppressed=bool(shown.hidden),
        suppressed_figures=[f for f in TrendFigure if f in shown.hidden],
        computed_at=r["computed_at"],
    )


async def trend_statistics(
    info: Info,
    municipalities: Annotated[
        list[str] | None,
        arg(
            "Only these municipalities (NIS codes); default: every municipality the viewer "
            "may see. A municipality outside the viewer's region gives no rows."
        ),
    ] = None,
    from_month: Annotated[
        datetime.date | None,
        arg(
            "First month of submission (any day of it). Default: eleven months before "
            "toMonth, or before this month."
        ),
    ] = None,
    to_month: Annotated[
        datetime.date | None,
        arg(
            "Last month of submission, inclusive (any day of it); the window spans at most "
            "36 months. Default: this month, or eleven months after fromMonth."
        ),
    ] = None,
) -> list[TrendStatistic] | None:
    """Rows of the viewer's municipalities in the window; errors OUT_OF_RANGE and
    PERIOD_ORDER for a window that is too long or reversed."""
    start, end = statistics_window(from_month, to_month, datetime.date.today())
    p = Params()
    scope = []
    region = region_of(info.context.viewer)
    if region is not None:
        scope.append(f"s.municipality_id = ANY({p.add(list(region))}::text[])")
    if municipalities is not None:
        # A NIS code PostgreSQL cannot store names no municipality.
        known = [m for m in municipalities if storable(m)]
        scope.append(f"s.municipality_id = ANY({p.add(known)}::text[])")
    sql = STATISTICS_SQL.format(
        start=p.add(start), end=p.add(end), scope=" AND ".join(scope) or "true"
    )
    return [_row(r) for r in await fetch(sql, *p.values)]


async def job_runs(
    info: Info,
    job: Annotated[str | None, arg("Only runs of this job (its name).")] = None,
    first: Annotated[int, arg("How many runs, newest first (1-100).", reason="pagination")] = 20,
) -> list[JobRun] | None:
    """The most recent runs (of one job), newest first."""
    from jobs.runner import load_jobs

    registry = load_jobs()
    if job is not None and not storable(job):
        return []  # no job has a name PostgreSQL cannot store
    p = Params()
    condition = "true" if job is None else f"job = {p.add(job)}"
    rows = await fetch(
        f"""SELECT job, started_at, finished_at, status, dry_run, reference_date, trigger,
                   batches, counts, error
            FROM job_run WHERE {condition}
            ORDER BY started_at DESC, id DESC LIMIT {p.add(page_size(first))}""",
        *p.values,
    )
    runs = []
    for r in rows:
        raw = r["counts"]
        counts: dict[str, int] = (orjson.loads(raw) if isinstance(raw, str) else raw) or {}
        spec = registry.get(r["job"])
        declared = spec.rules if spec is not None else ()
        rules = [*declared, *sorted(set(counts) - set(declared))]
        runs.append(
            JobRun(
                job=r["job"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                status=JobRunStatus(r["status"]),
                dry_run=r["dry_run"],
                reference_date=r["reference_date"],
                trigger=r["trigger"],
                batches=r["batches"],
                counts=[JobRunCount(rule=rule, rows=int(counts.get(rule, 0))) for rule in rules],
                error=r["error"] or None,
            )
        )
    return runs
