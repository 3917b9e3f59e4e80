"""The counter's demand overview: a few aggregating statements over the viewer's region.

Each figure is one SQL statement, run only when its field is selected; no row of a
dossier is read into Python. The region is the counter's municipalities (integrators
acting as a counter: theirs too), or every municipality for an admin.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Annotated, Any

from loket.context import Info
from loket.db import fetch
from loket.errors import InvalidInput
from loket.settings import TIME_ZONE, settings
from models.accounts import Role
from permissions.scopes import Params
from permissions.viewer import Viewer
from resolvers.loaders import LOCATION_COLUMNS, LOCATION_JOINS, location_from_row
from schema.counters import DemandOverview, LocationCount, MonthMunicipalityCount
from schema.directives import arg
from schema.regions import Municipality

MAX_MONTHS = 36
# Months before and after the current one in the default window.
DEFAULT_MONTHS_BACK = 12
DEFAULT_MONTHS_AHEAD = 12
# Fulfilment is a moment; its month is the month on a Belgian calendar.


def _index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def _month(index: int) -> datetime.date:
    return datetime.date(index // 12, index % 12 + 1, 1)


def window(
    from_month: datetime.date | None, to_month: datetime.date | None, today: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The first days of the first and last month of the window, inclusive.

    Without bounds: a year back and a year ahead of this month; with one bound, twelve
    months from (or up to) it.
    """
    if from_month is None and to_month is None:
        start, end = _index(today) - DEFAULT_MONTHS_BACK, _index(today) + DEFAULT_MONTHS_AHEAD
    elif to_month is None:
        assert from_month is not None
        start = _index(from_month)
        end = start + 11
    elif from_month is None:
        end = _index(to_month)
        start = end - 11
    else:
        start, end = _index(from_month), _index(to_month)
    if start > end:
        raise InvalidInput("PERIOD_ORDER", "fromMonth lies after toMonth.")
    if end - start + 1 > MAX_MONTHS:
        raise InvalidInput("OUT_OF_RANGE", f"The window spans at most {MAX_MONTHS} months.")
    try:
        # The day after the window must exist too (the statements use it as upper bound).
        _month(end + 1)
        return _month(start), _month(end)
    except ValueError:
        raise InvalidInput("OUT_OF_RANGE", "The window lies outside the calendar.") from None


def region_of(viewer: Viewer) -> tuple[str, ...] | None:
    """NIS codes of the viewer's region; None for every municipality (admins)."""
    role = viewer.effective_role
    if role is Role.ADMIN:
        return None
    if role is Role.LOKET:
        return viewer.counter_municipalities
    return ()


async def demand_overview(
    info: Info,
    from_month: Annotated[
        datetime.date | None,
        arg(
            "First month of the window (any day of it). Default: twelve months before this "
            "month, or eleven months before toMonth."
        ),
    ] = None,
    to_month: Annotated[
        datetime.date | None,
        arg(
            "Last month of the window, inclusive (any day of it); the window spans at most 36 "
            "months. Default: twelve months after this month, or eleven after fromMonth."
        ),
    ] = None,
) -> DemandOverview | None:
    """Aggregate demand in the viewer's region; errors OUT_OF_RANGE and PERIOD_ORDER for
    a window that is too long or reversed."""
    start, end = window(from_month, to_month, datetime.date.today())
    return DemandOverview(
        region=region_of(info.context.viewer), cache={}, from_month=start, to_month=end
    )


def _of_region(p: Params, region: tuple[str, ...] | None, request: str, household: str) -> str:
    """SQL: the request belongs to the region: the family lives there or any chosen
    location lies there (the counter grant of `permissions.scopes`, as a condition)."""
    if region is None:
        return "true"
    munis = p.add(list(region))
    return f"""({household}.municipality_id = ANY({munis}::text[])
        OR EXISTS (SELECT 1 FROM application ra
                   JOIN provider_location rl ON rl.id = ra.location_id
                   WHERE ra.request_id = {request}.id
                     AND rl.municipality_id = ANY({munis}::text[])))"""


MONTHLY_SQL = """SELECT {month} AS month, h.municipality_id, m.name AS municipality_name,
    count(*)::int AS n
FROM care_request r
JOIN household h ON h.id = r.household_id
JOIN municipality m ON m.nis_code = h.municipality_id
WHERE {condition} AND {region}
  -- Anonymised dossiers count only in the suppressed trend statistics: exact small
  -- counts of them here could point at the people behind them.
  AND h.anonymised_at IS NULL
GROUP BY 1, h.municipality_id, m.name
ORDER BY 1, m.name, h.municipality_id"""


def _counts(rows: list[Any]) -> list[MonthMunicipalityCount]:
    return [
        MonthMunicipalityCount(
            month=r["month"],
            municipality=Municipality(nis_code=r["municipality_id"], name=r["municipality_name"]),
            count=r["n"],
        )
        for r in rows
    ]


def _after(month: datetime.date) -> datetime.date:
    return _month(_index(month) + 1)


async def open_requests(overview: DemandOverview) -> list[MonthMunicipalityCount]:
    p = Params()
    condition = (
        f"r.status = 'OPEN' AND r.desired_start_date >= {p.add(overview.from_month)}"
        f" AND r.desired_start_date < {p.add(_after(overview.to_month))}"
    )
    sql = MONTHLY_SQL.format(
        month="date_trunc('month', r.desired_start_date::timestamp)::date",
        condition=condition,
        region=_of_region(p, overview.region, "r", "h"),
    )
    return _counts(await fetch(sql, *p.values))


async def fulfilled_requests(overview: DemandOverview) -> list[MonthMunicipalityCount]:
    p = Params()
    zone = p.add(TIME_ZONE)
    condition = (
        f"r.status = 'FULFILLED'"
        f" AND r.closed_at >= ({p.add(overview.from_month)}::date::timestamp AT TIME ZONE {zone})"
        f" AND r.closed_at < ({p.add(_after(overview.to_month))}::date::timestamp"
        f" AT TIME ZONE {zone})"
    )
    sql = MONTHLY_SQL.format(
        month=f"date_trunc('month', r.closed_at AT TIME ZONE {zone})::date",
        condition=condition,
        region=_of_region(p, overview.region, "r", "h"),
    )
    return _counts(await fetch(sql, *p.values))


async def emergency_list_size(overview: DemandOverview) -> int:
    """Open requests whose desired start is at most `emergency_days` away (the emergency
    list of `permissions.scopes.emergency_condition`, over the whole region)."""
    p = Params()
    rows = await fetch(
        f"""SELECT count(*)::int AS n FROM care_request r
            JOIN household h ON h.id = r.household_id
            WHERE r.status = 'OPEN'
              AND r.desired_start_date <= current_date + {p.add(settings.emergency_days)}::int
              AND {_of_region(p, overview.region, "r", "h")}""",
        *p.values,
    )
    return int(rows[0]["n"])


UNANSWERED_SQL = f"""SELECT {LOCATION_COLUMNS}, u.n
FROM (SELECT a.location_id, count(*)::int AS n
      FROM application a JOIN provider_location ul ON ul.id = a.location_id
      WHERE a.status = 'PENDING'
        AND a.created_at < now() - make_interval(days => {{days}}::int)
        AND {{region}}
      GROUP BY a.location_id) u
JOIN provider_location l ON l.id = u.location_id
{LOCATION_JOINS}
ORDER BY u.n DESC, l.name, l.id"""


async def _load_unanswered(region: tuple[str, ...] | None) -> list[LocationCount]:
    p = Params()
    days = p.add(settings.answer_days)
    region_sql = (
        "true" if region is None else f"ul.municipality_id = ANY({p.add(list(region))}::text[])"
    )
    rows = await fetch(UNANSWERED_SQL.format(days=days, region=region_sql), *p.values)
    return [LocationCount(location=location_from_row(r), count=r["n"]) for r in rows]


async def unanswered_by_location(overview: DemandOverview) -> list[LocationCount]:
    """Pending applications older than `answer_days` per location of the region. The total
    and the breakdown share one statement, so they always agree."""
    task = overview.cache.get("unanswered")
    if task is None:
        task = overview.cache["unanswered"] = asyncio.ensure_future(
            _load_unanswered(overview.region)
        )
    result: list[LocationCount] = await task
    return result
